#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# host-local after a reboot (issue 12 item 4): reservations an earlier
# boot's ADDs made are released by the first ADD of the new boot, and an
# attachment re-added after the reboot gets its old address back instead of
# "duplicate allocation is not allowed".  The reference's reservations (no
# cnic hint), hints written before boots were recorded, and networks with
# "reclaimAfterReboot": false are left alone.
#
# A reboot cannot be had in a test: it is simulated by rewriting what the
# earlier boot left on disk, the boot recorded in each hint and in the
# network's marker, to another boot id.
. "$(dirname "$0")/lib.sh"

HL=$BIN/host-local
[ -x "$HL" ] || bail_out "$HL not built"

netns_new C rbctr
DATA=$T/data
OLDBOOT=00000000-0000-4000-8000-000000000000

# conf NETWORK START END [EXTRA_IPAM_JSON]
conf()
{
	jq -nc --arg n "$1" --arg s "$2" --arg e "$3" --arg d "$DATA" --argjson x "${4:-{\}}" '
		{cniVersion: "1.0.0", name: $n, type: "host-local",
		 ipam: ({type: "host-local", dataDir: $d,
			 ranges: [[{subnet: "198.18.44.0/24", rangeStart: $s, rangeEnd: $e}]]} + $x)}'
}

# add NETWORK_CONF ID: ADD (ID, eth0); prints nothing, sets OUT/RC.
add()
{
	cni_json - "$HL" ADD "$2" "$(netns_path "$C")" eth0 "$1"
}

addr_of() { json_get "$OUT" '.ips[0].address'; }

# reboot NETWORK: as if the files had been written in another boot.
reboot()
{
	local h
	for h in "$DATA/$1"/.cnic-hint.*; do
		[ -f "$h" ] && sed -i "s/^boot=.*/boot=$OLDBOOT/" "$h"
	done
	printf 'boot=%s' "$OLDBOOT" >"$DATA/$1/.cnic-boot"
}

# ---- reclaimed after a reboot ---------------------------------------------

NET=$(conf rbnet 198.18.44.10 198.18.44.13)
mkdir -p "$DATA/rbnet"
# The reference's reservation: no hint, never touched.
printf 'refctr\r\neth0' >"$DATA/rbnet/198.18.44.13"
for id in a1 a2 a3; do
	add "$NET" "$id"
	is_success "ADD $id"
done
add "$NET" a2
is_error_json "before a reboot: ADD a2 again is a duplicate" 102
add "$NET" a4
is_error_json "before a reboot: the range is full" 100
a2_file=$(grep -l "^a2" "$DATA/rbnet"/198.* | head -1)
a2_addr=${a2_file##*/}
ok_if "each hint records the boot" bash -c "grep -q '^boot=$(cat /proc/sys/kernel/random/boot_id)\$' '$DATA/rbnet/.cnic-hint.'*"

reboot rbnet
add "$NET" a2
is_success "after a reboot: ADD a2 again succeeds"
is "after a reboot: a2 gets its old address back" "$(addr_of)" "$a2_addr/24"
ok_if "after a reboot: the boot marker names this boot" \
	bash -c "[ \"\$(cat '$DATA/rbnet/.cnic-boot')\" = \"boot=\$(cat /proc/sys/kernel/random/boot_id)\" ]"
add "$NET" a4
is_success "after a reboot: a1's and a3's addresses are free again (a4)"
add "$NET" a5
is_success "after a reboot: a5"
add "$NET" a6
is_error_json "after a reboot: the reference's reservation is kept (range full again)" 100
is "the reference's reservation is untouched" "$(tr -d '\r\n' <"$DATA/rbnet/198.18.44.13")" "refctreth0"
ok_if "a1's and a3's reservations are gone" \
	bash -c "! grep -lq -e '^a1' -e '^a3' '$DATA/rbnet'/198.*"
cni_json - "$HL" DEL a2 "$(netns_path "$C")" eth0 "$NET"
is_success "DEL a2 after the reboot"
ok_if "DEL a2 released its address" test ! -e "$DATA/rbnet/$a2_addr"
for id in a4 a5; do
	cni_json - "$HL" DEL "$id" "$(netns_path "$C")" eth0 "$NET"
done
ok_if "after the last DEL: no hint and no boot marker of the network left" \
	bash -c "! ls -A '$DATA/rbnet' | grep -e '^\.cnic' && [ ! -e '$DATA/.cnic' ]"

# ---- turned off -------------------------------------------------------------

NET2=$(conf rbnet2 198.18.44.20 198.18.44.20 '{"reclaimAfterReboot": false}')
add "$NET2" b1
is_success "reclaimAfterReboot false: ADD b1"
reboot rbnet2
add "$NET2" b1
is_error_json "reclaimAfterReboot false: re-ADD after a reboot is still a duplicate" 102
add "$NET2" b2
is_error_json "reclaimAfterReboot false: nothing is reclaimed" 100

# ---- hints written before boots were recorded ---------------------------------

NET3=$(conf rbnet3 198.18.44.30 198.18.44.30)
add "$NET3" c1
is_success "ADD c1"
for h in "$DATA/rbnet3"/.cnic-hint.*; do sed -i '/^boot=/d' "$h"; done
reboot rbnet3
add "$NET3" c2
is_error_json "a hint without a boot is never reclaimed" 100
ok_if "c1 keeps its reservation" test -e "$DATA/rbnet3/198.18.44.30"

done_testing
