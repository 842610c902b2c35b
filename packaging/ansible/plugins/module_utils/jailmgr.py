# -*- coding: utf-8 -*-
# Copyright: (c) 2026, jailmgr developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one way the modules run jailmgr: an argument list, the C locale, --json; they never re-implement it."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json


class Jailmgr(object):
    """The installed jailmgr, resolved once, run with its machine output."""

    def __init__(self, module, executable=None):
        self.module = module
        self.executable = module.get_bin_path(executable or "jailmgr", required=True, opt_dirs=["/usr/sbin"])

    def argv(self, command, *args):
        return [self.executable, "--json", command] + [str(arg) for arg in args]

    def run(self, command, *args, **kwargs):
        """(rc, the JSON document, stderr); `data` goes to standard input."""
        rc, out, err = self.module.run_command(self.argv(command, *args), data=kwargs.get("data"),
                                               environ_update={"LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"})
        try:
            doc = json.loads(out) if out.strip() else {}
        except ValueError:
            doc = {}
        return rc, doc, err

    def fail(self, what, rc, doc, err, **extra):
        """Fail with jailmgr's own words, and its problems (file, line, column, key, message, hint) as data."""
        problems = doc.get("problems") or []
        errors = doc.get("errors") or ([doc["error"]] if doc.get("error") else [])
        if problems:
            first = problems[0]
            msg = "%s: %s:%s:%s: %s" % (what, first.get("file"), first.get("line"), first.get("column"),
                                        first.get("message"))
            if first.get("hint"):
                msg += "; hint: %s" % first["hint"]
            if len(problems) > 1:
                msg += " (and %d more problems)" % (len(problems) - 1)
        elif errors:
            msg = "%s: %s" % (what, errors[0])
        else:
            msg = "%s: %s" % (what, (err or "").strip() or "jailmgr exited with status %s" % rc)
        self.module.fail_json(msg=msg, rc=rc, stderr=err, problems=problems, errors=errors, **extra)


RUNNING = ("active", "activating", "reloading", "deactivating")


def jail_state(status):
    """The module's word for a jail's run state, from its `jailmgr status` document (None: not managed)."""
    if status is None:
        return "absent"
    return "started" if status.get("active") in RUNNING else "stopped"


def statuses(jm, names=None):
    """`jailmgr status` of the managed jails among names (all of them when None), by name, in one call."""
    rc, doc, err = jm.run("list")
    if rc != 0:
        jm.fail("jailmgr list", rc, doc, err)
    managed = doc.get("jails") or []
    wanted = [name for name in managed if names is None or name in names]
    if not wanted:
        return {}
    rc, doc, err = jm.run("status", *wanted)
    if rc != 0:
        jm.fail("jailmgr status", rc, doc, err)
    return dict((jail["name"], jail) for jail in doc.get("jails") or [])


def exposures(jm, names):
    """Each jail's exposure score by systemd-analyze security (None when unknown), in one call."""
    if not names:
        return {}
    # check exits 1 when it has findings; the scores are in its document all the same
    rc, doc, err = jm.run("check", *names)
    return dict((jail.get("name"), jail.get("exposure")) for jail in doc.get("jails") or [])


def facts(name, status, exposure, plan):
    """What the modules return of one jail: the same keys whatever its state."""
    status = status or {}
    return dict(name=name, unit=status.get("unit") or "", main_pid=int(status.get("main_pid") or 0),
                state=jail_state(status or None), exposure=exposure, plan=list(plan),
                enabled=status.get("enabled") or "", jail_file=status.get("source") or "",
                units=list(status.get("units") or {}))


def plan_changed(plan):
    """A jail's plan asks for something: a change, a start, a removal."""
    return bool(plan.get("changes") or plan.get("restart") or plan.get("start") or plan.get("destroy"))


def plan_lines(plan):
    """What `jailmgr plan` prints for one jail, from its JSON."""
    lines = []
    for change in plan.get("changes") or []:
        detail = "  (%s)" % change["detail"] if change.get("detail") else ""
        lines.append("%s %-10s %s%s" % (change["op"], change["what"], change["path"], detail))
    if plan.get("start"):
        lines.append("~ service    %s" % ("restart" if plan["start"] == "restart" else "start"))
    return lines


def plan_diff(plan):
    """Ansible diffs for a jail's plan: each unit before and after, then the tree's changes."""
    diffs = []
    for change in plan.get("changes") or []:
        if change.get("what") == "unit" and "after" in change:
            diffs.append({"before": change.get("before") or "", "after": change.get("after") or "",
                          "before_header": "%s (on disk)" % change["path"],
                          "after_header": "%s (planned)" % change["path"]})
    others = [line for line in plan_lines(plan) if " unit " not in line[:14]]
    if others:
        diffs.append({"before": "", "after": "\n".join(others) + "\n",
                      "before_header": "jail %s" % plan.get("name"), "after_header": "jail %s: plan" % plan.get("name")})
    return diffs
