# -*- coding: utf-8 -*-
# Copyright: (c) 2026, jailmgr developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """What every module of the collection shares: the command it runs, check mode, the platform."""

    DOCUMENTATION = r"""
options:
  executable:
    description:
      - The jailmgr command.
    type: str
    default: jailmgr
attributes:
  check_mode:
    description: Runs C(jailmgr plan); writes nothing and reports what C(apply) would change.
    support: full
  platform:
    description: Debian and derivatives with systemd, where jailmgr runs.
    support: full
    platforms: debian
"""
