# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
#
# Sourced by the benchmarks that build their helper programs (brlib.sh's
# users, phases.sh, scale.sh, portmap-many.sh), once $HERE, $OUT and die() exist.

# bench_build PROG...: test/bench/PROG.c as $OUT/PROG, static, when missing or older than its
# source.  In the VM (IN_VM=1) nothing is compiled (TCG): the host's run builds them.
bench_build() {
	local p
	mkdir -p "$OUT"
	for p in "$@"; do
		# Any newer source counts: floor-bridge.c includes floor-host-local.c and floornl.h.
		[[ -x $OUT/$p && (${IN_VM:-0} == 1 ||
			-z $(find "$HERE" -maxdepth 1 -name '*.[ch]' -newer "$OUT/$p" -print -quit)) ]] && continue
		[[ ${IN_VM:-0} == 1 ]] && die "$OUT/$p not built (run $0 on the host once)"
		${CC:-cc} -std=gnu11 -O2 -Wall -Wextra -Wshadow -Wformat=2 -Wmissing-prototypes \
			-Wstrict-prototypes -Werror -D_GNU_SOURCE -static -o "$OUT/$p.$$" "$HERE/$p.c" ||
			die "cannot build $p"
		mv -f "$OUT/$p.$$" "$OUT/$p"
	done
}
