#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The README's test command: installs what the tests need, then every test
# tier (make check-all: fast, vm, pkg, bench; see tests/check.sh). Ends with
# one line "N passed, N failed" and exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
exec make check-all
