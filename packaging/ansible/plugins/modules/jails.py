#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, jailmgr developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: jails
short_description: Converge a directory of jailmgr jail files
version_added: "0.1.0"
description:
  - Runs C(jailmgr apply) on a directory of jail files (every C(*.yaml) in it), after asking for its plan;
    C(changed) is true exactly when the plan is not empty.
  - Jails whose files and inputs did not change are decided from fingerprints and cost almost nothing, so the
    module can run on every play.
  - In check mode it runs C(jailmgr plan) and writes nothing.
options:
  src:
    description:
      - The directory of jail files.
    type: path
    default: /etc/jailmgr/jails.d
  prune:
    description:
      - Also destroy managed jails that have no file in I(src) any more (their data in bound host
        directories stays).
    type: bool
    default: false
extends_documentation_fragment:
  - jailmgr.jailmgr.jailmgr
attributes:
  diff_mode:
    description: Returns each changed unit before and after, and each jail's tree changes.
    support: full
notes:
  - A jail that fails (its tree, unit or start) fails the task; the other jails of the directory are still
    brought to their files, and the result names the ones that failed.
seealso:
  - module: jailmgr.jailmgr.jail
author:
  - jailmgr developers (@jailmgr)
"""

EXAMPLES = r"""
- name: Every jail of the directory, and no other
  jailmgr.jailmgr.jails:
    src: /etc/jailmgr/jails.d
    prune: true
  become: true
"""

RETURN = r"""
plans:
  description: Per jail with something to do, the changes as C(jailmgr plan) prints them.
  returned: always
  type: dict
  sample: {"ftp": ["~ unit       /etc/systemd/system/jail-ftp.service", "~ service    restart"]}
restarted:
  description: The jails whose services were (re)started.
  returned: success, not in check mode
  type: list
  elements: str
failed_jails:
  description: The jails that failed, with what jailmgr said.
  returned: failure
  type: dict
problems:
  description: On failure, the jail files' problems, each with file, line, column, key, message and (when jailmgr has one) hint.
  returned: failure
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.jailmgr.jailmgr.plugins.module_utils.jailmgr import (
    Jailmgr,
    plan_changed,
    plan_diff,
    plan_lines,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            src=dict(type="path", default="/etc/jailmgr/jails.d"),
            prune=dict(type="bool", default=False),
            executable=dict(type="str", default="jailmgr"),
        ),
        supports_check_mode=True,
    )
    jm = Jailmgr(module, module.params["executable"])
    src = module.params["src"]
    prune = ["--prune"] if module.params["prune"] else []
    rc, doc, err = jm.run("plan", *(prune + [src]))
    if rc != 0:
        jm.fail("jails in %s" % src, rc, doc, err)
    changed = [plan for plan in doc.get("jails") or [] if plan_changed(plan)]
    result = dict(changed=bool(changed), plans=dict((plan["name"], plan_lines(plan)) for plan in changed))
    if module._diff:
        result["diff"] = [d for plan in changed for d in plan_diff(plan)]
    if changed and not module.check_mode:
        rc, doc, err = jm.run("apply", *(prune + [src]))
        result["restarted"] = doc.get("restarted") or []
        if rc != 0:
            jm.fail("jails in %s" % src, rc, doc, err, failed_jails=doc.get("failed") or {}, **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
