# SPDX-License-Identifier: GPL-2.0-or-later
# -*- coding: utf-8 -*-
# vim: set syntax=yaml ts=2 sw=2 sts=2 et :
#
# qubes-ephemeral (dom0): installs the package. Its units are not enabled
# by installing it; qubes-ephemeral.enable does that.
#   sudo qubesctl state.sls qubes-ephemeral

qubes-ephemeral-dom0:
  pkg.installed: []
