#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The README's demo command: installs what it needs, then `make demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
exec make demo
