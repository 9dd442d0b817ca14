# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
# tests/vm/qubes/upstream.sh: the real Qubes files the VM tests run, from the
# unmodified snapshots in ../shared/qubes-upstream (MANIFEST: commit, sha256).
# Sourced by lib.sh and the root builders (bash). Needs QUBES_CACHE (a cache
# folder) set by the caller.
#   qubes_src REPO          -> prints the unpacked top folder (cached, verified)
#   qubes_subst IN OUT KEY  -> OUT = IN with xvd* renamed vd* (xvd-to-vd.sed),
#                              after checking IN has exactly the count xvd-counts
#                              lists for KEY (an upstream change fails loudly)
QUBES_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
QUBES_UPSTREAM=${QUBES_UPSTREAM:-$(cd "$QUBES_DIR/../../.." && pwd)/../shared/qubes-upstream}
# the branch whose snapshot the tests use (release4.3 = the current release)
QUBES_BRANCH=${QUBES_BRANCH:-release4.3}

qubes_src() { # REPO
	local repo=$1 tarball sum want dir tmp
	tarball=$QUBES_UPSTREAM/$repo-$QUBES_BRANCH.tar.gz
	[ -f "$tarball" ] || { echo "qubes-upstream: $tarball is missing: put the snapshots of shared/qubes-upstream there (or set QUBES_UPSTREAM); see its README for the git commits" >&2; return 1; }
	want=$(awk -v f="$(basename "$tarball")" '$5 == f {print $4}' "$QUBES_UPSTREAM/MANIFEST")
	[ -n "$want" ] || { echo "qubes-upstream: $(basename "$tarball") is not in $QUBES_UPSTREAM/MANIFEST" >&2; return 1; }
	dir=$QUBES_CACHE/qubes-src-$repo-$QUBES_BRANCH-${want:0:12}
	mkdir -p "$QUBES_CACHE"
	(
		flock 8
		[ -f "$dir/.done" ] && exit 0
		sum=$(sha256sum <"$tarball" | cut -d' ' -f1)
		[ "$sum" = "$want" ] || { echo "qubes-upstream: sha256 of $tarball is $sum, MANIFEST says $want" >&2; exit 1; }
		rm -rf "$dir"
		tmp=$(mktemp -d "$QUBES_CACHE/tmp-qsrc.XXXXXX")
		tar -xzf "$tarball" -C "$tmp" || { rm -rf "$tmp"; exit 1; }
		mv "$tmp" "$dir"
		touch "$dir/.done"
	) 8>"$QUBES_CACHE/.lock-qubes-src" || return 1
	echo "$dir/$repo-$QUBES_BRANCH"
}

qubes_subst() { # IN OUT KEY
	local in=$1 out=$2 key=$3 want got
	want=$(awk -v k="$key" '$1 == k {print $2}' "$QUBES_DIR/xvd-counts")
	[ -n "$want" ] || { echo "qubes-subst: no count for $key in $QUBES_DIR/xvd-counts" >&2; return 1; }
	got=$(grep -o xvd "$in" | wc -l)
	[ "$got" = "$want" ] || { echo "qubes-subst: $key names xvd $got times, xvd-counts expects $want: upstream changed; check the file and update xvd-counts" >&2; return 1; }
	sed -f "$QUBES_DIR/xvd-to-vd.sed" "$in" >"$out"
	! grep -q xvd "$out" || { echo "qubes-subst: xvd left in $out" >&2; return 1; }
	chmod --reference="$in" "$out"
}
