#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, jailmgr developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: jail_info
short_description: Facts of jailmgr jails
version_added: "0.2.0"
description:
  - Returns the facts of one jail, or of every jail jailmgr manages - its unit, main PID, run state, exposure
    score and what C(jailmgr apply) would change - in the same form as the C(jail) key that
    M(jailmgr.jailmgr.jail) returns.
  - Changes nothing; it runs C(jailmgr list), C(status), C(check) and C(plan) with C(--json).
options:
  name:
    description:
      - One jail. A jail jailmgr does not manage is returned with state C(absent). Unset, every managed jail.
    type: str
extends_documentation_fragment:
  - jailmgr.jailmgr.jailmgr
notes:
  - Needs root on the managed host; set C(become) in the play or the task.
seealso:
  - module: jailmgr.jailmgr.jail
author:
  - jailmgr developers (@jailmgr)
"""

EXAMPLES = r"""
- name: The ftp jail's facts
  jailmgr.jailmgr.jail_info:
    name: ftp
  register: ftp
  become: true

- name: Its main PID, when it runs
  ansible.builtin.debug:
    msg: "{{ ftp.jails[0].main_pid }}"
  when: ftp.jails[0].state == 'started'

- name: Every managed jail
  jailmgr.jailmgr.jail_info:
  register: all_jails
  become: true
"""

RETURN = r"""
jails:
  description: One entry per jail asked for (all managed jails, by name, when I(name) is unset).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The jail's name.
      type: str
      sample: ftp
    unit:
      description: The jail's main unit (empty when absent).
      type: str
      sample: jail-ftp.service
    main_pid:
      description: The unit's main PID (0 when it does not run).
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
      description: What C(jailmgr plan) of the jail's file would change, one line each (empty when nothing,
        or when the jail's file is gone).
      type: list
      elements: str
      sample: ["~ service    start"]
    enabled:
      description: Whether the unit starts at boot, as systemd says.
      type: str
      sample: enabled
    jail_file:
      description: The jail file of its last apply.
      type: str
      sample: /etc/jailmgr/jails.d/ftp.yaml
    units:
      description: Every unit of the jail, the main one first.
      type: list
      elements: str
      sample: [jail-ftp.service]
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.jailmgr.jailmgr.plugins.module_utils.jailmgr import (
    Jailmgr,
    exposures,
    facts,
    plan_lines,
    statuses,
)


def plans(jm, sources):
    """Each jail's plan lines, from one `jailmgr plan` of the files that still exist; a jail whose file
    fails to plan gets none rather than failing the others' facts."""
    files = sorted(set(path for path in sources if path and os.path.isfile(path)))
    if not files:
        return {}
    rc, doc, err = jm.run("plan", *files)
    if rc != 0:
        jm.module.warn("jailmgr plan failed (%s): %s" % (rc, (err or "").strip()))
    return dict((plan.get("name"), plan_lines(plan)) for plan in doc.get("jails") or [])


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str"),
            executable=dict(type="str", default="jailmgr"),
        ),
        supports_check_mode=True,
    )
    jm = Jailmgr(module, module.params["executable"])
    name = module.params["name"]
    found = statuses(jm, [name] if name else None)
    names = [name] if name else sorted(found)
    scores = exposures(jm, [n for n in names if n in found])
    planned = plans(jm, [found[n].get("source") for n in names if n in found])
    jails = [facts(n, found.get(n), scores.get(n), planned.get(n, [])) for n in names]
    module.exit_json(changed=False, jails=jails)


if __name__ == "__main__":
    main()
