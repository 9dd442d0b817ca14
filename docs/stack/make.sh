#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Redraws docs/stack/storage-stack.svg from a real test boot: boots the
# `systemd` scenario (tests/vm/run.sh; needs root, see tests/vm/README.md),
# or takes the console log given, keeps its dm-table/blockdev/mount lines in
# docs/stack/stack.txt and renders the SVG from them.
#   docs/stack/make.sh [CONSOLE_LOG]
set -euo pipefail
cd "$(dirname "$0")/../.."
log=${1:-}
if [ -z "$log" ]; then
	out=$(tests/vm/run.sh systemd 2>&1) || { echo "$out" | tail -30; echo "make.sh: the systemd scenario failed: no picture made" >&2; exit 1; }
	dir=$(sed -n 's/.*console logs in \(.*\)$/\1/p' <<<"$out" | tail -1)
	log=$dir/systemd/console.log
fi
[ -f "$log" ] || { echo "make.sh: $log: no such console log" >&2; exit 1; }
docs/stack/storage-stack.py extract "$log" >docs/stack/stack.txt.new
docs/stack/storage-stack.py svg docs/stack/stack.txt.new >docs/stack/storage-stack.svg.new
mv docs/stack/stack.txt.new docs/stack/stack.txt
mv docs/stack/storage-stack.svg.new docs/stack/storage-stack.svg
echo "docs/stack/storage-stack.svg drawn from $log"
