# shellcheck shell=bash
# SPDX-License-Identifier: Apache-2.0
#
# Container-side setup for the sbr bench case (sourced by run.sh): sbr works
# on an existing eth0 in the container ($CTR), carrying one address per
# implementation (conf/sbr.json: 198.18.43.10 ours, .11 the reference's),
# so their rules never collide.  No gateway: after the first ADD the main
# table has no route of eth0 left and every ADD then does the same work
# (list rules and routes, one rule, nothing to copy).  Both DELs remove the
# rules of every address on eth0, so ours (which runs first) deletes the
# reference's rule too: the DEL comparison is tilted against us.

setup_sbr()
{
	ip -n "$1" link add sbr-bench0 type veth peer name eth0 netns "$CTR" ||
		die "sbr: cannot create eth0 in the container"
	ip -n "$CTR" addr add 198.18.43.10/24 dev eth0 &&
		ip -n "$CTR" addr add 198.18.43.11/24 dev eth0 &&
		ip -n "$CTR" link set eth0 up && ip -n "$1" link set sbr-bench0 up ||
		die "sbr: cannot configure eth0"
}
