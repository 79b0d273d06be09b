#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# concurrency-summary.sh build/bench/concurrency.tsv: one line per side and K with the
# median (over the rounds) total time of the parallel ADDs and of the DELs, and the failures
# and leaks summed over the rounds.  TSV with a header; used by concurrency.sh and report.sh.

set -euo pipefail

printf 'impl\tk\trounds\tadd_ms\tadd_failures\tdel_ms\tdel_failures\tleaks\n'
tail -n +2 "$1" | awk -F'\t' -v OFS='\t' '
function median(v, c,    i, j, x) {	# insertion sort: a handful of rounds
	for (i = 2; i <= c; i++)
		for (j = i; j > 1 && v[j - 1] > v[j]; j--) {
			x = v[j]; v[j] = v[j - 1]; v[j - 1] = x
		}
	return v[int((c + 1) / 2)]
}
{
	g = $1 SUBSEP $2
	if (!(g in c)) order[++m] = g
	c[g]++; add[g, c[g]] = $4 + 0; del[g, c[g]] = $7 + 0
	af[g] += $5; df[g] += $8; lk[g] += $9
}
END {
	for (i = 1; i <= m; i++) {
		g = order[i]; split(g, f, SUBSEP)
		for (j = 1; j <= c[g]; j++) { va[j] = add[g, j]; vd[j] = del[g, j] }
		print f[1], f[2], c[g], median(va, c[g]), af[g], median(vd, c[g]), df[g], lk[g]
	}
}' | sort -t $'\t' -k2,2n -k1,1
