#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, jailmgr developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: jail
short_description: Manage one jailmgr jail
version_added: "0.1.0"
description:
  - Declares one chroot jail of jailmgr, a confined service run by systemd, and converges the host to it
    with C(jailmgr apply).
  - The jail is given either as I(definition), the jail file as a dictionary, which the module writes to
    I(jails_dir)/NAME.yaml, or as I(src), a jail file already on the host.
  - The module asks jailmgr for its plan and reports C(changed) exactly when the plan, or the jail's run
    state, is to change. In check mode it runs C(jailmgr plan) with the definition on standard input and
    writes nothing, anywhere.
  - It calls the installed C(jailmgr) with C(--json); it never re-implements it.
options:
  name:
    description:
      - The jail's name; its unit is C(jail-NAME.service).
      - Optional when I(definition) or I(src) names the jail (its C(name) key); when both are given they
        must agree.
    type: str
  definition:
    description:
      - The jail file, as a dictionary (the keys of the manual page jailmgr.yaml(5), C(man 5 jailmgr.yaml)).
        Its C(name) may be left out when I(name) is given.
      - Written to I(jails_dir)/NAME.yaml, with a first line that marks it as the module's. Mutually
        exclusive with I(src).
    type: dict
  src:
    description:
      - A jail file on the managed host, the operator's. Mutually exclusive with I(definition).
    type: path
  state:
    description:
      - C(present) converges the jail to its file (a changed jail is restarted, as C(jailmgr apply) does); a
        jail that is stopped and otherwise unchanged stays stopped.
      - C(started) is C(present), and the jail's service runs.
      - C(stopped) is C(present), and the jail's units are stopped (a jail whose file changed is applied
        first, which starts it, and then stopped). A later plain C(jailmgr apply) starts it again, since jailmgr
        converges every jail it manages to running.
      - C(restarted) is C(present), and the service is restarted, once, even when nothing changed.
      - C(absent) destroys the jail (its units, tree and record; data in bound host directories stays) and
        removes the jail file the module wrote, so that a later C(jailmgr apply) does not create it again.
        A file given as I(src) is the operator's and stays; the module warns when it lies in I(jails_dir).
    type: str
    choices: [present, absent, started, stopped, restarted]
    default: present
  enabled:
    description:
      - Whether the jail starts at boot (the jail file's C(enable)). Only with I(definition); unset, the
        definition decides.
    type: bool
  jails_dir:
    description:
      - Where a I(definition) is written, and where C(jailmgr apply) without arguments reads jail files.
    type: path
    default: /etc/jailmgr/jails.d
extends_documentation_fragment:
  - jailmgr.jailmgr.jailmgr
attributes:
  diff_mode:
    description: Returns the jail file, each unit before and after, the tree's changes and the run state.
    support: full
notes:
  - Needs root on the managed host; set C(become) in the play or the task.
seealso:
  - module: jailmgr.jailmgr.jail_info
  - module: jailmgr.jailmgr.jails
author:
  - jailmgr developers (@jailmgr)
"""

EXAMPLES = r"""
- name: An anonymous FTP server in its own jail, running
  jailmgr.jailmgr.jail:
    state: started
    definition:
      name: ftp
      exec: [/usr/sbin/vsftpd, /etc/vsftpd.conf]
      tree:
        binaries: [/usr/sbin/vsftpd]
        files:
          - {path: /etc/vsftpd.conf, template: vsftpd.conf.j2, vars: {port: 2121, pasv_min: 30000, pasv_max: 30010}}
        dirs: [{path: /srv/ftp, mode: "0555"}, {path: /var/empty, mode: "0555"}]
        users: [ftp, nobody]
      security:
        capabilities: [CAP_NET_BIND_SERVICE, CAP_SYS_CHROOT, CAP_SETUID, CAP_SETGID]
  become: true

- name: A jail from a file already on the host (the file names the jail)
  jailmgr.jailmgr.jail:
    src: /etc/jailmgr/jails.d/dns.yaml

- name: Built and up to date, but not running
  jailmgr.jailmgr.jail:
    name: ftp
    state: stopped

- name: Gone, with its tree and the file the module wrote (bound host data stays)
  jailmgr.jailmgr.jail:
    name: ftp
    state: absent
  register: gone

- name: What was done
  ansible.builtin.debug:
    var: gone.actions
"""

RETURN = r"""
jail:
  description: The jail after the task (in check mode, as it would be).
  returned: always
  type: dict
  contains:
    name:
      description: The jail's name.
      type: str
      sample: ftp
    unit:
      description: The jail's main unit (empty when the jail is absent).
      type: str
      sample: jail-ftp.service
    main_pid:
      description: The unit's main PID (0 when it is not running, or in check mode before it starts).
      type: int
      sample: 4242
    state:
      description: C(started), C(stopped) or C(absent).
      type: str
      sample: started
    exposure:
      description: The unit's exposure score by C(systemd-analyze security) (0 best, 10 worst; null when
        unknown or absent).
      type: float
      sample: 2.9
    plan:
      description: The changes jailmgr planned (empty when nothing was to change), one line each as
        C(jailmgr plan) prints them, and the run state's change.
      type: list
      elements: str
      sample: ["~ unit       /etc/systemd/system/jail-ftp.service", "~ service    restart"]
    enabled:
      description: Whether the unit starts at boot, as systemd says (C(enabled), C(disabled); empty when absent).
      type: str
      sample: enabled
    jail_file:
      description: The jail file of its last apply (empty when absent).
      type: str
      sample: /etc/jailmgr/jails.d/ftp.yaml
    units:
      description: Every unit of the jail, the main one first.
      type: list
      elements: str
      sample: [jail-ftp.service]
actions:
  description: What the task did (in check mode, would do), in order.
  returned: always
  type: list
  elements: str
  sample: ["write /etc/jailmgr/jails.d/ftp.yaml", "apply /etc/jailmgr/jails.d/ftp.yaml", "stop jail-ftp.service"]
jail_file:
  description: The jail file the task used.
  returned: always
  type: str
  sample: /etc/jailmgr/jails.d/ftp.yaml
plan:
  description: The same as C(jail.plan) (kept for playbooks written for 0.1.0).
  returned: always
  type: list
  elements: str
unit:
  description: The jail's main unit file (the socket of a jail whose file sets C(accept) true; kept for playbooks written for 0.1.0).
  returned: when state is not absent
  type: str
  sample: /etc/systemd/system/jail-ftp.service
units:
  description: Every unit of the jail (the service, its socket with C(sockets), the template with C(accept)).
  returned: when state is present or restarted and the jail exists
  type: list
  elements: str
  sample: ["jail-web.service", "jail-web.socket"]
main_pid:
  description: The same as C(jail.main_pid) (kept for playbooks written for 0.1.0).
  returned: when state is not absent
  type: int
exposure:
  description: The same as C(jail.exposure) (kept for playbooks written for 0.1.0).
  returned: when state is not absent
  type: float
problems:
  description: On failure, the jail file's problems, each with file, line, column, key, message and (when jailmgr has one) hint.
  returned: failure
  type: list
  elements: dict
rc:
  description: On failure, jailmgr's exit status.
  returned: failure
  type: int
"""

import os
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.jailmgr.jailmgr.plugins.module_utils.jailmgr import (
    Jailmgr,
    exposures,
    facts,
    plan_changed,
    plan_diff,
    plan_lines,
    statuses,
)

HEADER = "# Written by Ansible (jailmgr.jailmgr.jail) from a playbook: change the playbook, not this file.\n"
STOP_LINE = "~ service    stop"


def definition_text(name, definition, enabled):
    doc = dict(definition)
    doc["name"] = name
    if enabled is not None:
        doc["enable"] = enabled
    try:
        import yaml
    except ImportError:  # JSON is YAML too, and every host that runs jailmgr has PyYAML anyway
        import json

        return HEADER + json.dumps(doc, indent=2) + "\n"
    return HEADER + yaml.safe_dump(doc, default_flow_style=False, sort_keys=False)


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except (IOError, OSError):
        return None


def named_in(text):
    """The name a jail file gives its jail (None when it gives none, or is not a mapping)."""
    try:
        import yaml

        doc = yaml.safe_load(text)
    except Exception:  # jailmgr says what is wrong with the file, with its line and column
        return None
    name = doc.get("name") if isinstance(doc, dict) else None
    return name if isinstance(name, str) else None


def jail_name(module):
    """The name given, or the one the definition or src names; both given, they must agree."""
    params = module.params
    given = params["name"]
    named = None
    if params["definition"] is not None:
        named = params["definition"].get("name")
    elif params["src"] is not None:
        text = read(params["src"])
        named = named_in(text) if text is not None else None
    if given and named and given != named:
        module.fail_json(msg="the jail file names jail %r, not %r" % (named, given))
    name = given or named
    if not name:
        module.fail_json(msg="name is required unless definition or src names the jail (its name key)")
    return name


def write(module, path, text):
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o755)
    fd, temp = tempfile.mkstemp(dir=directory, prefix=".ansible-jail-")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(temp, 0o644)
    module.atomic_move(temp, path)


def jail_plan(doc, name):
    return next((plan for plan in doc.get("jails") or [] if plan.get("name") == name), {"name": name})


def systemctl(module, verb, units, name):
    rc, out, err = module.run_command(["systemctl", verb] + list(units))
    if rc != 0:
        module.fail_json(msg="jail %s: systemctl %s failed: %s" % (name, verb, err.strip()), rc=rc, stderr=err)


def converge(module, jm, name, result):
    """present, started, stopped, restarted: the file, jailmgr's plan, then the run state asked for."""
    params = module.params
    wanted_state = params["state"]
    path = params["src"] or os.path.join(params["jails_dir"], "%s.yaml" % name)
    result["jail_file"] = path
    actions = result["actions"]
    current = read(path)
    text = None
    if params["definition"] is not None:
        text = definition_text(name, params["definition"], params["enabled"])
    elif current is None:
        module.fail_json(msg="%s: no such jail file" % path)
    file_changes = text is not None and text != current
    if file_changes:
        rc, doc, err = jm.run("plan", "--stdin-as", path, path, data=text)
    else:
        rc, doc, err = jm.run("plan", path)
    if rc != 0:
        jm.fail("jail %s" % name, rc, doc, err, jail_file=path)
    plan = jail_plan(doc, name)
    before = statuses(jm, [name]).get(name)
    running = before is not None and facts(name, before, None, [])["state"] == "started"
    # jailmgr's plan starts a jail that is stopped and otherwise unchanged ("start-stopped"): that is
    # `started`'s business only; present, stopped and restarted leave the run state to their own step.
    only_start = plan.get("start") == "start-stopped" and not plan.get("changes")
    lines = plan_lines(plan)
    apply_needed = file_changes or (plan_changed(plan) and (wanted_state == "started" or not only_start))
    if not apply_needed:
        lines = []
    # Applying starts the jail (a changed one is restarted): what runs afterwards, and what is left to do.
    runs_after = running or apply_needed
    stop = wanted_state == "stopped" and runs_after
    restart = wanted_state == "restarted" and not (apply_needed and (plan.get("restart") or plan.get("start")))
    if stop:
        lines.append(STOP_LINE)
    if restart:
        lines.append("~ service    restart")
    if file_changes:
        actions.append("write %s" % path)
    if apply_needed:
        actions.append("apply %s" % path)
    if module._diff:
        diffs = []
        if file_changes:
            diffs.append({"before": current or "", "after": text, "before_header": path,
                          "after_header": "%s (from the playbook)" % path})
        diffs += plan_diff(plan) if apply_needed else []
        if stop or restart:
            state_before = "started" if running else "stopped"
            diffs.append({"before": "state: %s\n" % state_before,
                          "after": "state: %s\n" % ("stopped" if stop else "started (restarted)"),
                          "before_header": "jail %s" % name, "after_header": "jail %s" % name})
        result["diff"] = diffs
    if not module.check_mode:
        if file_changes:
            write(module, path, text)
        if apply_needed:
            rc, doc, err = jm.run("apply", path)
            if rc != 0:
                jm.fail("jail %s" % name, rc, doc, err, jail_file=path, actions=actions)
    units = None
    if stop or restart:
        after = before if module.check_mode else statuses(jm, [name]).get(name)
        listed = list((after or {}).get("units") or []) or ["jail-%s.service" % name]
        verb = "stop" if stop else "restart"
        # A restart is of the main unit (an accept: true jail's is its socket); a stop is of every unit (a
        # socket would start the service again), a template's by its running instances.
        units = [u for u in listed if not u.endswith("@.service")]
        units += ["jail-%s@*.service" % name for u in listed if u.endswith("@.service")]
        units = units if stop else units[:1]
        actions.append("%s %s" % (verb, " ".join(units)))
        if not module.check_mode:
            systemctl(module, verb, units, name)
    result["changed"] = bool(actions)
    status = before if module.check_mode else statuses(jm, [name]).get(name)
    jail = facts(name, status, exposures(jm, [name]).get(name) if status else None, lines)
    if module.check_mode:  # the jail as it would be
        if wanted_state == "present":
            jail["state"] = "started" if runs_after else "stopped"
        else:
            jail["state"] = "stopped" if wanted_state == "stopped" else "started"
        jail["unit"] = jail["unit"] or "jail-%s.service" % name
    result["jail"] = jail
    result["plan"] = lines
    result["unit"] = "/etc/systemd/system/%s" % (jail["unit"] or "jail-%s.service" % name)
    result["main_pid"] = jail["main_pid"]
    result["exposure"] = jail["exposure"]


def absent(module, jm, name, result):
    params = module.params
    path = params["src"] or os.path.join(params["jails_dir"], "%s.yaml" % name)
    result["jail_file"] = path
    actions = result["actions"]
    managed = name in statuses(jm, [name])
    # The module removes only the file it wrote (its first line says so); a file given as src is the
    # operator's.
    text = read(path)
    ours = params["src"] is None and text is not None and text.startswith(HEADER)
    theirs_in_dir = (params["src"] is not None and text is not None
                     and os.path.dirname(os.path.abspath(path)) == os.path.abspath(params["jails_dir"]))
    if theirs_in_dir:
        module.warn("%s stays (src is the operator's file): a jailmgr apply of %s creates jail %s again"
                    % (path, params["jails_dir"], name))
    lines = []
    if managed:
        actions.append("destroy %s" % name)
        lines.append("- jail       %s  (units, tree and record removed)" % name)
    if ours:
        actions.append("remove %s" % path)
        lines.append("- file       %s" % path)
    result["changed"] = bool(actions)
    if module._diff and result["changed"]:
        result["diff"] = [{"before": text if ours else "jail %s\n" % name, "after": "", "before_header": path,
                           "after_header": "%s (absent)" % path}]
    if not module.check_mode:
        if managed:
            rc, doc, err = jm.run("destroy", name)
            if rc != 0:
                jm.fail("jail %s" % name, rc, doc, err, actions=actions)
        if ours:
            os.unlink(path)
    result["plan"] = lines
    result["jail"] = facts(name, None, None, lines)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str"),
            definition=dict(type="dict"),
            src=dict(type="path"),
            state=dict(type="str", choices=["present", "absent", "started", "stopped", "restarted"],
                       default="present"),
            enabled=dict(type="bool"),
            jails_dir=dict(type="path", default="/etc/jailmgr/jails.d"),
            executable=dict(type="str", default="jailmgr"),
        ),
        mutually_exclusive=[["definition", "src"], ["enabled", "src"]],
        required_one_of=[["name", "definition", "src"]],
        supports_check_mode=True,
    )
    jm = Jailmgr(module, module.params["executable"])
    name = jail_name(module)
    result = dict(changed=False, plan=[], actions=[])
    if module.params["state"] == "absent":
        absent(module, jm, name, result)
    else:
        converge(module, jm, name, result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
