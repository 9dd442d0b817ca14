#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Gets unmodified qubes-core-admin + qubes-core-qrexec trees for one Qubes
# version (master | release4.3 | release4.2) into the gitignored cache
# tests/dom0/cache/real-qubesd/VERSION/ and prepares core-admin's entry
# points the way its own run-tests does (setup.py egg_info --egg-base).
# Source: ../shared/qubes-upstream/*.tar.gz next to the repo (sha256 checked
# against MANIFEST); else `git clone` + `git archive` at the MANIFEST commit;
# else prints "SKIPPED: ..." and exits 77.
# usage: get-upstream.sh VERSION   (prints the cache folder on success)
set -euo pipefail
V=${1:?usage: get-upstream.sh master|release4.3|release4.2}
case $V in master | release4.3 | release4.2) ;; *) echo "get-upstream: unknown version $V" >&2; exit 2 ;; esac
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(git -C "$HERE" rev-parse --show-toplevel 2>/dev/null || (cd "$HERE/../../.." && pwd))
UP=${QUBES_UPSTREAM_DIR:-$ROOT/../shared/qubes-upstream}
[ -d "$UP" ] || UP=/work/shared/qubes-upstream   # the developers' copy
CACHE=${REAL_QUBESD_CACHE:-$ROOT/tests/dom0/cache/real-qubesd}
PY=/usr/bin/python3; [ -x "$PY" ] || PY=$(command -v python3)
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9
D=$CACHE/$V
[ -f "$D/.ready" ] && { echo "$D"; exit 0; }
rm -rf "$D" "$D.tmp"
mkdir -p "$D.tmp"
trap 'rm -rf "$D.tmp"' EXIT

# MANIFEST: "# repo branch commit sha256 file"; the same commits with git
MANIFEST_FALLBACK="QubesOS/qubes-core-admin master 1ad5f9b84dc1eae76d1b885d009f3e84f5503740
QubesOS/qubes-core-admin release4.2 702cc3f951bc051b202a04c5fb7a761ab00f2dd8
QubesOS/qubes-core-admin release4.3 68fc8b6bb9176dafac77471efa8599f6dc04da70
QubesOS/qubes-core-qrexec master b2822df6fc22e52dbaa721a25ba92040f342b8b6
QubesOS/qubes-core-qrexec release4.2 e5e70b0ba6aac632ae90939de0c1000279838389
QubesOS/qubes-core-qrexec release4.3 cc801b8f630a65dfb2855b829bfc070f6e82f26a"
for repo in qubes-core-admin qubes-core-qrexec; do
	out=$D.tmp/$repo
	mkdir -p "$out"
	if [ -f "$UP/MANIFEST" ] && [ -f "$UP/$repo-$V.tar.gz" ]; then
		want=$(awk -v r="QubesOS/$repo" -v b="$V" '$1 == r && $2 == b { print $4 }' "$UP/MANIFEST")
		got=$(sha256sum "$UP/$repo-$V.tar.gz" | cut -d' ' -f1)
		if [ -z "$want" ] || [ "$want" != "$got" ]; then
			echo "get-upstream: $UP/$repo-$V.tar.gz: sha256 $got does not match MANIFEST (${want:-no entry}); refusing it" >&2
			exit 1
		fi
		tar xzf "$UP/$repo-$V.tar.gz" -C "$out" --strip-components=1
	else
		commit=$(awk -v r="QubesOS/$repo" -v b="$V" '$1 == r && $2 == b { print $3 }' "$UP/MANIFEST" 2>/dev/null || :)
		[ -n "$commit" ] || commit=$(awk -v r="QubesOS/$repo" -v b="$V" '$1 == r && $2 == b { print $3 }' <<<"$MANIFEST_FALLBACK")
		if ! command -v git >/dev/null ||
			! git clone -q --filter=blob:none --no-checkout "https://github.com/QubesOS/$repo" "$D.tmp/git-$repo" 2>/dev/null ||
			! git -C "$D.tmp/git-$repo" archive "$commit" | tar x -C "$out"; then
			echo "SKIPPED: real qubesd $V: no $UP/$repo-$V.tar.gz and git could not get QubesOS/$repo at $commit"
			exit 77
		fi
		rm -rf "$D.tmp/git-$repo"
	fi
done
# core-admin's own test setup: entry points (qubes.vm, qubes.ext,
# qubes.storage, ...) from its setup.py, without installing anything
mkdir -p "$D.tmp/egg"
(cd "$D.tmp/qubes-core-admin" && "$PY" setup.py -q egg_info --egg-base "$D.tmp/egg") >"$D.tmp/egg.log" 2>&1 ||
	{ echo "get-upstream: setup.py egg_info failed for core-admin $V:" >&2; cat "$D.tmp/egg.log" >&2; exit 1; }
touch "$D.tmp/.ready"
mv "$D.tmp" "$D"
trap - EXIT
echo "$D"
