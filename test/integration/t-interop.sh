#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Ours and the reference host-local on one dataDir: concurrent allocation
# never duplicates, each releases and sees what the other reserved, round
# robin continues across implementations, and the files look the same.
. "$(dirname "$0")/lib.sh"

OURS=$BIN/host-local
THEIRS=$REF/host-local
DATA=$T/ipam
NET=$DATA/shared
# Our attachment hints: dotfiles in the network directory, which the reference
# walks and reads; it must neither match nor delete them.
hints() { find "$NET" -mindepth 1 -maxdepth 1 -name '.cnic-hint.*' 2>/dev/null | wc -l; }
# Reservations only (ipam_files lists our hints and boot marker too).
resv() { ipam_files "$NET" | grep -v '^\.cnic-' || true; }

netns_new NODE node
netns_new CTR ctr
CNS=$(netns_path "$CTR")

ok_if "reference host-local present" test -x "$THEIRS"
ok_if "our host-local built" test -x "$OURS"

# 1.0.0 is the newest version both speak.
jq -n --arg d "$DATA" '{cniVersion: "1.0.0", name: "shared", type: "host-local",
	ipam: {type: "host-local", dataDir: $d, ranges: [[{subnet: "198.18.30.0/24"}], [{subnet: "2001:db8:30::/64"}]]}}' \
	>"$T/c.json"
jq '.cniVersion = "0.4.0"' "$T/c.json" >"$T/c04.json"

hl() # PLUGIN VERB CID [VAR=VAL...]
{
	local p=$1 verb=$2 cid=$3
	shift 3
	cni "$NODE" "$p" "$verb" "$cid" "$CNS" eth0 "$T/c.json" "$@"
}
addr() { json_get "$OUT" '.ips[0].address // empty'; }

# ---- sequential: round robin, duplicates, CHECK across implementations ----------------

hl "$OURS" ADD s-ours-1; is "ours allocates .2" "$(addr)" 198.18.30.2/24
hl "$THEIRS" ADD s-ref-1; is "reference continues at .3 (reads our last_reserved_ip)" "$(addr)" 198.18.30.3/24
hl "$OURS" ADD s-ours-2; is "ours continues at .4 (reads the reference's)" "$(addr)" 198.18.30.4/24
hl "$THEIRS" ADD s-ours-1
ok_if "reference refuses a duplicate of our attachment" test "$RC" -ne 0
hl "$OURS" ADD s-ours-1
is_error_json "ours refuses a duplicate of its own attachment (found through its hint)" 102
# The documented trade (docs/host-local.md): ADD's duplicate check reads only
# our own hint, so a duplicate ADD of an attachment the reference allocated
# gets one more address, which DEL releases with the rest.
hl "$OURS" ADD s-ref-1
is_success "a duplicate of a reference-made attachment is not detected (by design)"
is "... it gets the next address" "$(addr)" 198.18.30.5/24
is "one hint per attachment ours allocated (none written by the reference)" "$(hints)" 3
hl "$OURS" ADD s-x "CNI_ARGS=IP=198.18.30.3"
is_error_json "ours refuses an address the reference holds" 101
cni "$NODE" "$THEIRS" CHECK s-ours-1 "$CNS" eth0 "$T/c04.json"
is_success "reference CHECK finds our reservation"
cni "$NODE" "$OURS" CHECK s-ref-1 "$CNS" eth0 "$T/c04.json"
is_success "our CHECK finds the reference's reservation"

# same format: names, contents; modes (ours 0600, the reference 1.1.1 0644)
ok_if "our v4 file content" cmp "$NET/198.18.30.2" <(printf 's-ours-1\r\neth0')
ok_if "reference v4 file content (same form)" cmp "$NET/198.18.30.3" <(printf 's-ref-1\r\neth0')
ok_if "our v6 file name form" test -f "$NET/2001:db8:30::2"
ok_if "reference v6 file name form" test -f "$NET/2001:db8:30::3"
is "our IP file mode" "$(file_mode "$NET/198.18.30.2")" 600
diag "reference IP file mode: $(file_mode "$NET/198.18.30.3")"
ok_if "last_reserved_ip.0 written by ours: bare address" cmp "$NET/last_reserved_ip.0" <(printf 198.18.30.5)
is "no directory of ours inside the network directory" "$(find "$NET" -mindepth 1 -type d)" ""
ok_if "the boot marker goes with the hints" test -f "$NET/.cnic-boot"
ok_if "nothing of ours outside the network directory" test ! -e "$DATA/.cnic"

hl "$OURS" DEL s-ref-1
ok_if "ours releases the reference's reservation and the duplicate (both families)" \
	test ! -e "$NET/198.18.30.3" -a ! -e "$NET/2001:db8:30::3" -a ! -e "$NET/198.18.30.5" -a ! -e "$NET/2001:db8:30::5"
is "our DEL removes the attachment's hint" "$(hints)" 2
hl "$THEIRS" DEL s-ours-1
hl "$THEIRS" DEL s-ours-2
ok_if "the reference releases ours" test ! -e "$NET/198.18.30.2" -a ! -e "$NET/198.18.30.4"
is "sequential part leaves nothing" "$(resv)" ""
is "the reference's DEL leaves our (now stale) hints alone" "$(hints)" 2
jq '.cniVersion = "1.1.0" | .["cni.dev/valid-attachments"] = []' "$T/c.json" >"$T/gc.json"
cni "$NODE" "$OURS" GC "" "" "" "$T/gc.json"
is_success "our GC"
is "GC removes stale hints" "$(hints)" 0
ok_if "... and the boot marker with the last" test ! -e "$NET/.cnic-boot"
is "nothing of ours left" "$(ipam_files "$NET")" ""

# ---- concurrent: N each, interleaved --------------------------------------------------

N=100
[ "${VALGRIND:-0}" == 1 ] && N=20
mkdir -p "$T/res"
pids=()
for ((i = 0; i < N; i++)); do
	(hl "$THEIRS" ADD "ref-$i"; printf '%s %s\n' "$RC" "$(jq -r '[.ips[].address] | join(" ")' <<<"$OUT" 2>/dev/null)" >"$T/res/ref-$i") &
	pids+=($!)
	(hl "$OURS" ADD "our-$i"; printf '%s %s\n' "$RC" "$(jq -r '[.ips[].address] | join(" ")' <<<"$OUT" 2>/dev/null)" >"$T/res/our-$i") &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
is "all $((2 * N)) concurrent ADDs succeed" "$(cat "$T"/res/* | awk '$1 != 0' | head -3)" ""
is "$((2 * N)) distinct v4 addresses" "$(awk '{print $2}' "$T"/res/* | sort -u | grep -c /24)" $((2 * N))
is "$((2 * N)) distinct v6 addresses" "$(awk '{print $3}' "$T"/res/* | sort -u | grep -c /64)" $((2 * N))
is "$((4 * N)) reservation files" "$(resv | wc -l)" $((4 * N))
bad=""
for f in "$T"/res/*; do
	id=${f##*/}
	read -r _ a4 a6 <"$f"
	for a in "${a4%/*}" "${a6%/*}"; do
		cmp -s "$NET/$a" <(printf '%s\r\neth0' "$id") || bad+="$id:$a "
	done
done
is "every file well-formed and owned by the container that got the address" "$bad" ""
is "$N hints, one per attachment of ours" "$(hints)" "$N"
ok_if "no stray files (only IPs, lock, last_reserved_ip.N)" bash -c \
	"cd '$NET' && ls -A | grep -vE '^(lock|last_reserved_ip\\.[01]|\\.cnic-hint\\.[0-9a-f]{16}|\\.cnic-boot|198\\.18\\.30\\.[0-9]+|2001:db8:30::[0-9a-f]+)\$' | { ! grep .; }"
# Hints are where the reference looks, even in subdirectories it walks: never
# matched or deleted by it, their content being neither "<id>\r\n<ifname>"
# nor "<id>", their name no address.
mkdir "$NET/.probe"
for f in "$NET"/.cnic-hint.*; do [ "$(head -n1 "$f" | tr -d '\r')" = our-0 ] && cp "$f" "$NET/.probe/hint"; done
ok_if "probe hint copied" test -s "$NET/.probe/hint"

# each releases what the other allocated
rm -f "$T"/res/*
pids=()
for ((i = 0; i < N; i++)); do
	(hl "$OURS" DEL "ref-$i"; echo "$RC" >"$T/res/d-ref-$i") &
	pids+=($!)
	(hl "$THEIRS" DEL "our-$i"; echo "$RC" >"$T/res/d-our-$i") &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
is "all crossed DELs succeed" "$(grep -vx 0 "$T"/res/* | head -3)" ""
ok_if "the reference's DEL of our-0 left the hint-shaped probe alone" test -s "$NET/.probe/hint"
hl "$THEIRS" ADD our-0
is_success "the reference does not take the probe for our-0's reservation (no duplicate error)"
hl "$THEIRS" DEL our-0
ok_if "... nor delete it on DEL" test -s "$NET/.probe/hint"
rm -rf "$NET/.probe"
is "the reference deletes no hint of ours" "$(hints)" "$N"
is "no reservation left after crossed DELs" "$(resv)" ""

assert_no_links "$CTR"
assert_no_links "$NODE"
done_testing
