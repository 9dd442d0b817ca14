# SPDX-License-Identifier: GPL-2.0-or-later
# -*- coding: utf-8 -*-
# vim: set syntax=yaml ts=2 sw=2 sts=2 et :
base:
  dom0:
    - match: nodegroup
    - qubes-ephemeral
