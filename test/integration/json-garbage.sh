# SPDX-License-Identifier: Apache-2.0
#
# Sourced after lib.sh by t-json.sh and test/vm/t-json-ipvlan.sh: input the
# reference's decoder would reject, in two shapes (wrong types at the top,
# wrong members inside), for the DEL and GC that must not fail on it.
# shellcheck shell=bash

GARBAGE1='{"runtimeConfig": "garbage", "prevResult": [1], "args": 7}'
GARBAGE2='{"RuntimeConfig": {"PortMappings": [{"HostPort": "x"}], "ipRanges": 5, "mac": "zz",
           "ips": ["not-an-ip"], "bandwidth": []},
           "prevResult": {"cniVersion": "1.0.0", "ips": [{"address": "bad"}]},
           "args": {"cni": {"ips": ["nope"], "mac": 5}}}'
# shellcheck disable=SC2034 # for the scripts that source this file
BAD_CNI_ARGS='none;;=x=y'

# with_garbage JSON N: JSON plus garbage variant N.
with_garbage()
{
	local g=$GARBAGE1
	[ "$2" == 2 ] && g=$GARBAGE2
	jq -c --argjson g "$g" '. + $g' <<<"$1"
}
