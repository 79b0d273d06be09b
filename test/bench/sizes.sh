#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Binary sizes: every plugin that both sides ship.  Ours are built fully static with debug
# info; `make install` strips them, so the stripped size (strip --strip-all on a copy) is
# what a node carries.  The reference's Go binaries are stripped by Debian already.
#
# Environment: BENCH_OURS_DIR (bin), BENCH_REF_DIR (/usr/lib/cni).
# Output: build/bench/sizes.tsv (plugin ours_bytes ours_stripped_bytes ref_bytes ratio
# ours_linkage ref_linkage) and the same as a table on stdout.

set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$ROOT/build/bench
OURS_DIR=${BENCH_OURS_DIR:-$ROOT/bin}
REF_DIR=${BENCH_REF_DIR:-/usr/lib/cni}

mkdir -p "$OUT"
T=$(mktemp -d)
trap 'rm -rf -- "$T"' EXIT

linkage() {
	if readelf -l "$1" 2>/dev/null | grep -q 'Requesting program interpreter'; then
		echo dynamic
	else
		echo static
	fi
}

{
	printf 'plugin\tours_bytes\tours_stripped_bytes\tref_bytes\tratio\tours_linkage\tref_linkage\n'
	for b in "$OURS_DIR"/*; do
		p=${b##*/}
		[[ -x $b && -f $b && -x $REF_DIR/$p ]] || continue
		strip --strip-all -o "$T/$p" "$b"
		o=$(stat -c %s "$b") s=$(stat -c %s "$T/$p") r=$(stat -c %s "$REF_DIR/$p")
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$p" "$o" "$s" "$r" \
			"$(awk -v a="$s" -v b="$r" 'BEGIN { printf "%.3f", a / b }')" \
			"$(linkage "$b")" "$(linkage "$REF_DIR/$p")"
	done
} >"$OUT/sizes.tsv"
column -t "$OUT/sizes.tsv"
