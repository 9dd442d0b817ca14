# SPDX-License-Identifier: GPL-2.0-or-later
# -*- coding: utf-8 -*-
# vim: set syntax=yaml ts=2 sw=2 sts=2 et :
#
# qubes-ephemeral.enable (dom0): makes the qubes listed in the pillar, and
# if asked every disposable now and later, fully ephemeral; keeps kernel
# variants in step with installed kernels; runs the watch service that
# re-applies the settings (qubesd restarts, new disposables).
#   sudo qubesctl state.sls qubes-ephemeral.enable
# Pillar `qubes-ephemeral` (see pillar/qubes-ephemeral.sls):
#   qubes: [NAME, ...]      qubes to enable (they must be halted)
#   all-disposables: bool   every disposable template and named disposable
#   exclude: [NAME, ...]    left out of all-disposables
#   dom0-crypt: bool        also volatile ephemeral=True (dom0 encrypts too)
#   watch: bool             qvm-ephemeral-watch service (default True)
# Each command runs only when its `unless` check finds the state not yet
# reached, so a second run changes nothing. `qvm-ephemeral enable` exits 1
# when it refuses a qube (running, its kernel has no variant, ...): the
# state then fails with the tool's one-line reason. With all-disposables,
# running named disposables are refused on the first run; the policy is
# saved anyway and the watch service enables them once they stop.
{%- set cfg = salt['pillar.get']('qubes-ephemeral', {}) %}
{%- set dom0_crypt = cfg.get('dom0-crypt', False) %}
{%- set crypt_opt = ' --dom0-crypt' if dom0_crypt else '' %}
{%- set exclude = cfg.get('exclude', []) | sort %}

include:
  - qubes-ephemeral

# every installed kernel gets its current VER-ephemeral variant (enable
# needs it); skipped when `kernel list` shows every kernel "ok"
qubes-ephemeral-kernel-variants:
  cmd.run:
    - name: qvm-ephemeral kernel sync
    - unless: >-
        out=$(qvm-ephemeral kernel list) &&
        printf '%s\n' "$out" | awk '$2 == "original" && $3 != "ok" && $3 != "unknown" { n++ } END { exit (n > 0) }'
    - require:
      - pkg: qubes-ephemeral-dom0

# new kernels get their variant by themselves
qvm-ephemeral-kernel-sync.path:
  service.running:
    - enable: True
    - require:
      - pkg: qubes-ephemeral-dom0

{%- if cfg.get('watch', True) %}

qvm-ephemeral-watch:
  service.running:
    - enable: True
    - require:
      - pkg: qubes-ephemeral-dom0
{%- endif %}

{%- for vm in cfg.get('qubes', []) %}

qubes-ephemeral-enable-{{ vm }}:
  cmd.run:
    - name: qvm-ephemeral enable{{ crypt_opt }} {{ vm | quote }}
    - unless: >-
        qvm-ephemeral status --format json {{ vm | quote }} | grep -q '"verdict": "ephemeral"'
{%- if dom0_crypt %} &&
        qvm-ephemeral status --format json {{ vm | quote }} | grep -q '"volatile_ephemeral": true'
{%- endif %}
    - require:
      - cmd: qubes-ephemeral-kernel-variants
{%- endfor %}

{%- if cfg.get('all-disposables', False) %}
{%- set policy = 'dom0-crypt=' ~ (1 if dom0_crypt else 0) ~ ' exclude=' ~ (exclude | join(',')) %}

# the policy is saved in dom0's feature qubes-ephemeral.all-disposables;
# run again when it is missing or differs (other exclude list or dom0-crypt)
qubes-ephemeral-all-disposables:
  cmd.run:
    - name: >-
        qvm-ephemeral enable --all-disposables{{ crypt_opt }}
        {%- for x in exclude %} --exclude {{ x | quote }}{% endfor %}
    - unless: >-
        test "$(qvm-features dom0 qubes-ephemeral.all-disposables)" = {{ policy | quote }}
    - require:
      - cmd: qubes-ephemeral-kernel-variants
{%- endif %}
