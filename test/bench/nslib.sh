# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
#
# Sourced by the benchmarks that make up to a few thousand netns (phases.sh,
# scale.sh, concurrency.sh), once $T, $NSLIST and die() exist: adding and
# deleting them in `ip -batch` runs instead of one `ip` process per netns.

# mkns NAME...: the netns, each recorded in $NSLIST for the cleanup.
mkns() {
	printf '%s\n' "$@" >>"$NSLIST"
	printf 'netns add %s\n' "$@" | ip -batch - >/dev/null || die "ip netns add failed"
}

# del_netns FILE: delete the netns FILE names (one a line), then empty FILE.
# Parallel batches: `ip netns del` only unmounts and unlinks (the kernel tears
# the links down afterwards, batching many namespaces per RCU grace period),
# so one `ip -batch` per 250 names, four at a time, is quick even for 1000.
del_netns() {
	[[ -s $1 ]] || return 0
	sed 's/^/netns del /' "$1" | split -l 250 - "$T/delbatch."
	printf '%s\n' "$T"/delbatch.* | xargs -r -P 4 -n 1 ip -force -batch >/dev/null 2>&1 || true
	rm -f "$T"/delbatch.*
	: >"$1"
}
