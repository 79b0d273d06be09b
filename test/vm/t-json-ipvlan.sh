#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# The ipvlan part of test/integration/t-json.sh (DEL and GC never fail on
# input they cannot use), which needs a kernel with ipvlan: a real ADD, then
# DEL with a runtimeConfig, prevResult, args and CNI_ARGS the reference's
# decoder would reject (two shapes), twice each, and GC with the same
# garbage: each succeeds, and the link and the reservation are gone.
. "$(dirname "$0")/../integration/lib.sh"

[ "${CNIC_IN_VM:-0}" = 1 ] || skip_all "needs the VM (test/vm/run.sh)"
[ -x "$BIN/ipvlan" ] || bail_out "$BIN/ipvlan not built"
modprobe ipvlan 2>/dev/null
modprobe dummy 2>/dev/null

netns_new NODE jsnode
netns_new C jsctr
ip -n "$NODE" link add jsm0 type dummy && ip -n "$NODE" link set jsm0 up || bail_out "master"

. "$(dirname "$0")/../integration/json-garbage.sh"

IVC='{"cniVersion": "1.0.0", "name": "js8", "type": "ipvlan", "master": "jsm0",
      "ipam": {"type": "host-local", "dataDir": "'$T'/ipam8", "ranges": [[{"subnet": "198.18.78.0/24"}]]}}'

cni_json "$NODE" "$BIN/ipvlan" ADD js-8 "$(netns_path "$C")" iv0 "$IVC"
is_success "ipvlan ADD"
ok_if "the ipvlan link is in the container" ip -n "$C" link show iv0
is "and its address reserved" "$(compgen -G "$T/ipam8/js8/198.18.78.*" | wc -l)" 1

for n in 1 2; do
	for again in first again; do
		cni_json "$NODE" "$BIN/ipvlan" DEL js-8 "$(netns_path "$C")" iv0 \
			"$(with_garbage "$IVC" $n)" CNI_ARGS="$BAD_CNI_ARGS"
		is_success "ipvlan: DEL with garbage $n ($again)"
	done
	cni_json "$NODE" "$BIN/ipvlan" GC "" "" "" \
		"$(with_garbage "$IVC" $n | jq -c '.cniVersion = "1.1.0" | ."cni.dev/valid-attachments" = []')" \
		CNI_ARGS="$BAD_CNI_ARGS"
	is_success "ipvlan: GC with garbage $n"
done
assert_no_leaks "$C" "$T/ipam8/js8"

done_testing
