# SPDX-License-Identifier: GPL-2.0-or-later
# -*- coding: utf-8 -*-
# vim: set syntax=yaml ts=2 sw=2 sts=2 et :
#
# Example pillar for qubes-ephemeral.enable: copy to
# /srv/user_pillar/qubes-ephemeral.sls and name it in
# /srv/user_pillar/top.sls (pillar/top.sls here).
qubes-ephemeral:
  qubes:
    - work
    - vault
  all-disposables: True
  exclude: []
  dom0-crypt: False
  watch: True
