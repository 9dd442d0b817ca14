#!/bin/bash
# The README's test command: installs what the tests need, then `make check`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
exec make check
