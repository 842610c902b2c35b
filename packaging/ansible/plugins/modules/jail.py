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
  - The jail is given either as O(definition), the jail file as a dictionary, which the module writes to
    O(jails_dir)/O(name).yaml, or as O(src), a jail file already on the host.
  - The module asks jailmgr for its plan and reports C(changed) exactly when the plan is not empty. In
    check mode it runs C(jailmgr plan) with the definition on standard input and writes nothing, anywhere.
  - It calls the installed C(jailmgr) with C(--json); it never re-implements it.
options:
  name:
    description:
      - The jail's name; its unit is C(jail-NAME.service).
    type: str
    required: true
  definition:
    description:
      - The jail file, as a dictionary (the keys of C(jailmgr.yaml(5))). Its C(name) may be left out.
      - Written to O(jails_dir)/O(name).yaml. Mutually exclusive with O(src).
    type: dict
  src:
    description:
      - A jail file on the managed host. Mutually exclusive with O(definition).
    type: path
  state:
    description:
      - V(present) converges the jail to its file, V(absent) destroys it (its unit, tree and record; data in
        bound host directories stays) and removes the file the module wrote, V(restarted) converges it and
        restarts its service.
    type: str
    choices: [present, absent, restarted]
    default: present
  enabled:
    description:
      - Whether the jail starts at boot (the jail file's C(enable)). Only with O(definition); unset, the
        definition decides.
    type: bool
  jails_dir:
    description:
      - Where a O(definition) is written.
    type: path
    default: /etc/jailmgr/jails.d
extends_documentation_fragment:
  - jailmgr.jailmgr.jailmgr
attributes:
  diff_mode:
    description: Returns the jail file, the unit before and after, and the tree's changes.
    support: full
notes:
  - Needs root on the managed host (O(become=true)).
seealso:
  - module: jailmgr.jailmgr.jails
author:
  - jailmgr developers (@jailmgr)
"""

EXAMPLES = r"""
- name: An anonymous FTP server in its own jail
  jailmgr.jailmgr.jail:
    name: ftp
    definition:
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

- name: A jail from a file already on the host
  jailmgr.jailmgr.jail:
    name: dns
    src: /etc/jailmgr/jails.d/dns.yaml

- name: Gone, with its tree (bound host data stays)
  jailmgr.jailmgr.jail:
    name: ftp
    state: absent
"""

RETURN = r"""
jail_file:
  description: The jail file.
  returned: always
  type: str
  sample: /etc/jailmgr/jails.d/ftp.yaml
plan:
  description: The changes jailmgr planned (empty when nothing was to change), one line each as C(jailmgr plan)
    prints them.
  returned: always
  type: list
  elements: str
  sample: ["~ unit       /etc/systemd/system/jail-ftp.service", "~ service    restart"]
unit:
  description: The jail's main unit file (the socket of a jail whose file sets C(accept) true).
  returned: when state is present or restarted
  type: str
  sample: /etc/systemd/system/jail-ftp.service
units:
  description: Every unit of the jail (the service, its socket with C(sockets), the template with C(accept)).
  returned: when state is present or restarted and the jail exists
  type: list
  elements: str
  sample: ["jail-web.service", "jail-web.socket"]
main_pid:
  description: The unit's main PID (0 when it is not running, or in check mode before the jail exists).
  returned: when state is present or restarted
  type: int
  sample: 4242
exposure:
  description: The unit's exposure score by C(systemd-analyze security) (0 best, 10 worst).
  returned: when state is present or restarted and the jail exists
  type: float
  sample: 2.9
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
    plan_changed,
    plan_diff,
    plan_lines,
)

HEADER = "# Written by Ansible (jailmgr.jailmgr.jail) from a playbook: change the playbook, not this file.\n"


def definition_text(name, definition, enabled):
    doc = dict(definition)
    doc.setdefault("name", name)
    if enabled is not None:
        doc["enable"] = enabled
    try:
        import yaml
    except ImportError:  # JSON is YAML too, and every host that runs jailmgr has PyYAML anyway
        import json

        return HEADER + json.dumps(doc, indent=2) + "\n", doc["name"]
    return HEADER + yaml.safe_dump(doc, default_flow_style=False, sort_keys=False), doc["name"]


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except (IOError, OSError):
        return None


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


def present(module, jm, result):
    params = module.params
    name = params["name"]
    path = params["src"] or os.path.join(params["jails_dir"], "%s.yaml" % name)
    result["jail_file"] = path
    text, wanted = None, name
    current = read(path)
    if params["definition"] is not None:
        text, wanted = definition_text(name, params["definition"], params["enabled"])
        if wanted != name:
            module.fail_json(msg="the definition names jail %r, not %r" % (wanted, name))
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
    result["plan"] = plan_lines(plan)
    result["changed"] = file_changes or plan_changed(plan)
    if module._diff:
        diffs = []
        if file_changes:
            diffs.append({"before": current or "", "after": text, "before_header": path,
                          "after_header": "%s (from the playbook)" % path})
        result["diff"] = diffs + plan_diff(plan)
    result["unit"] = "/etc/systemd/system/jail-%s.service" % name
    if not module.check_mode:
        if file_changes:
            write(module, path, text)
        if plan_changed(plan) or file_changes:
            rc, doc, err = jm.run("apply", path)
            if rc != 0:
                jm.fail("jail %s" % name, rc, doc, err, jail_file=path)
        if params["state"] == "restarted":
            rc, out, err = module.run_command(["systemctl", "restart"] + restart_units(jm, name))
            if rc != 0:
                module.fail_json(msg="jail %s: systemctl restart failed: %s" % (name, err.strip()), rc=rc,
                                 stderr=err)
            result["changed"] = True
    elif params["state"] == "restarted":
        result["changed"] = True
    rc, doc, err = jm.run("status", name)
    jails = doc.get("jails") or [{}]
    result["main_pid"] = int(jails[0].get("main_pid") or 0) if rc == 0 else 0
    if rc == 0 and jails[0].get("unit"):  # (an accept: true jail's main unit is its socket)
        result["unit"] = "/etc/systemd/system/%s" % jails[0]["unit"]
        result["units"] = sorted(jails[0].get("units") or [jails[0]["unit"]])
    rc, doc, err = jm.run("check", name)  # exits 1 when it has findings; the score is there all the same
    checked = doc.get("jails") or [{}]
    result["exposure"] = checked[0].get("exposure")


def restart_units(jm, name):
    """What a restart restarts: the jail's units as status lists them (its socket with its service; never a
    template, whose instances live as long as their connection)."""
    rc, doc, err = jm.run("status", name)
    units = list(((doc.get("jails") or [{}])[0].get("units") or {}).keys()) if rc == 0 else []
    units = [u for u in units if not u.endswith("@.service") and not u.endswith("-netns.service")]
    return units or ["jail-%s.service" % name]


def absent(module, jm, result):
    params = module.params
    name = params["name"]
    path = params["src"] or os.path.join(params["jails_dir"], "%s.yaml" % name)
    result["jail_file"] = path
    rc, doc, err = jm.run("list")
    if rc != 0:
        jm.fail("jailmgr list", rc, doc, err)
    managed = name in (doc.get("jails") or [])
    # The module removes only the file it wrote; a file given as src is the operator's.
    ours = params["src"] is None and (read(path) or "").startswith(HEADER)
    result["changed"] = managed or ours
    result["plan"] = ["- jail       %s  (unit, tree and record removed)" % name] if managed else []
    if module._diff and result["changed"]:
        result["diff"] = [{"before": read(path) or "jail %s\n" % name, "after": "", "before_header": path,
                           "after_header": "%s (absent)" % path}]
    if module.check_mode:
        return
    if managed:
        rc, doc, err = jm.run("destroy", name)
        if rc != 0:
            jm.fail("jail %s" % name, rc, doc, err)
    if ours:
        os.unlink(path)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            definition=dict(type="dict"),
            src=dict(type="path"),
            state=dict(type="str", choices=["present", "absent", "restarted"], default="present"),
            enabled=dict(type="bool"),
            jails_dir=dict(type="path", default="/etc/jailmgr/jails.d"),
            executable=dict(type="str", default="jailmgr"),
        ),
        mutually_exclusive=[["definition", "src"], ["enabled", "src"]],
        required_if=[["state", "present", ["definition", "src"], True],
                     ["state", "restarted", ["definition", "src"], True]],
        supports_check_mode=True,
    )
    jm = Jailmgr(module, module.params["executable"])
    result = dict(changed=False, plan=[])
    if module.params["state"] == "absent":
        absent(module, jm, result)
    else:
        present(module, jm, result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
