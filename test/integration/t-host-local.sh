#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# host-local IPAM end to end: results in every spec version, allocation
# order, requested addresses, exhaustion, duplicates, the on-disk format,
# parallel ADD/DEL, GC, STATUS, and the same through libcni (cnitool).
. "$(dirname "$0")/lib.sh"

HL=$BIN/host-local
VERSIONS=(0.1.0 0.2.0 0.3.0 0.3.1 0.4.0 1.0.0 1.1.0)
DATA=$T/ipam

netns_new NODE node
netns_new CTR ctr
CNS=$(netns_path "$CTR")

# conf FILE VERSION NETNAME IPAM_JSON [TOP_LEVEL_EXTRA_JSON]
conf()
{
	jq -n --arg v "$2" --arg n "$3" --arg d "$DATA" --argjson ipam "$4" --argjson x "${5:-{\}}" \
		'{cniVersion: $v, name: $n, type: "host-local", ipam: ({type: "host-local", dataDir: $d} + $ipam)} + $x' >"$1"
}

# hl VERB CID CONF [VAR=VAL...]: host-local in the node netns, ifname eth0 unless overridden.
hl()
{
	local verb=$1 cid=$2 c=$3
	shift 3
	cni "$NODE" "$HL" "$verb" "$cid" "$CNS" eth0 "$c" "$@"
}

# listing DIR [find args]: names, sizes, modes and a hash of the contents.
listing()
{
	local d=$1
	shift
	(cd "$d" 2>/dev/null && find . "$@" -printf '%p %s %m\n' | sort &&
		find . -type f "$@" -print0 | sort -z | xargs -0r cat | md5sum)
}

# ---- result schema in every version -----------------------------------------

DUAL='{"ranges": [[{"subnet": "198.18.0.0/24"}], [{"subnet": "2001:db8:0:1::/64"}]],
       "routes": [{"dst": "0.0.0.0/0"}, {"dst": "2001:db8:ffff::/48", "gw": "2001:db8:0:1::1"}]}'
for v in "${VERSIONS[@]}"; do
	conf "$T/v.json" "$v" vnet "$DUAL"
	hl ADD "ver-$v" "$T/v.json"
	is_success "ADD $v succeeds"
	ok_jq "$v: cniVersion echoed" "$OUT" ".cniVersion == \"$v\""
	case $v in
	0.1.0 | 0.2.0)
		ok_jq "$v: ip4/ip6 schema" "$OUT" \
			'(.ip4.ip | test("^198\\.18\\.0\\.[0-9]+/24$")) and .ip4.gateway == "198.18.0.1"
			 and (.ip6.ip | test("^2001:db8:0:1::[0-9a-f]+/64$")) and .ip6.gateway == "2001:db8:0:1::1"
			 and (has("ips") | not) and (has("interfaces") | not)'
		ok_jq "$v: routes split by family" "$OUT" \
			'.ip4.routes == [{"dst": "0.0.0.0/0"}] and .ip6.routes == [{"dst": "2001:db8:ffff::/48", "gw": "2001:db8:0:1::1"}]'
		ok_jq "$v: empty dns printed as {}" "$OUT" '.dns == {}'
		;;
	0.3.0 | 0.3.1 | 0.4.0)
		ok_jq "$v: ips[] with version" "$OUT" \
			'(.ips | length) == 2 and .ips[0].version == "4" and .ips[1].version == "6"
			 and (.ips[0].address | test("^198\\.18\\.0\\.[0-9]+/24$")) and .ips[0].gateway == "198.18.0.1"
			 and (.ips[1].address | endswith("/64")) and .ips[1].gateway == "2001:db8:0:1::1"
			 and (has("ip4") | not) and (has("interfaces") | not) and ([.ips[] | has("interface")] | any | not)'
		ok_jq "$v: routes" "$OUT" '.routes == [{"dst": "0.0.0.0/0"}, {"dst": "2001:db8:ffff::/48", "gw": "2001:db8:0:1::1"}]'
		ok_jq "$v: empty dns printed as {}" "$OUT" '.dns == {}'
		;;
	*)
		ok_jq "$v: ips[] without version" "$OUT" \
			'(.ips | length) == 2 and ([.ips[] | has("version")] | any | not)
			 and (.ips[0].address | test("^198\\.18\\.0\\.[0-9]+/24$")) and (.ips[1].address | endswith("/64"))
			 and (has("ip4") | not) and (has("interfaces") | not) and ([.ips[] | has("interface")] | any | not)'
		ok_jq "$v: routes" "$OUT" '.routes == [{"dst": "0.0.0.0/0"}, {"dst": "2001:db8:ffff::/48", "gw": "2001:db8:0:1::1"}]'
		ok_jq "$v: empty dns omitted" "$OUT" 'has("dns") | not'
		;;
	esac
done
is "one v4 + one v6 file per ADD" "$(ipam_files "$DATA/vnet" | wc -l)" $((2 * ${#VERSIONS[@]}))

# dns from resolvConf, in every version
printf '# comment\n; other\nnameserver 198.18.0.53\nnameserver 2001:db8::53 extra\ndomain example.test\nsearch a.test b.test\noptions ndots:2 edns0\n\n' >"$T/resolv.conf"
DNSIPAM="{\"resolvConf\": \"$T/resolv.conf\", \"ranges\": [[{\"subnet\": \"198.18.9.0/24\"}]]}"
for v in "${VERSIONS[@]}"; do
	conf "$T/d.json" "$v" dnsnet "$DNSIPAM"
	hl ADD "dns-$v" "$T/d.json"
	ok_jq "$v: dns from resolvConf" "$OUT" \
		'.dns == {"nameservers": ["198.18.0.53", "2001:db8::53"], "domain": "example.test",
		          "search": ["a.test", "b.test"], "options": ["ndots:2", "edns0"]}'
	hl DEL "dns-$v" "$T/d.json"
done
conf "$T/d.json" 1.0.0 dnsnet "{\"resolvConf\": \"$T/nonexistent\", \"ranges\": [[{\"subnet\": \"198.18.9.0/24\"}]]}"
hl ADD dns-missing "$T/d.json"
is_error "unreadable resolvConf is an error"
is "... and reserves nothing" "$(ipam_files "$DATA/dnsnet")" ""

# CHECK and DEL of each
for v in "${VERSIONS[@]}"; do
	conf "$T/v.json" "$v" vnet "$DUAL"
	case $v in 0.[123].*) ;; *)
		hl CHECK "ver-$v" "$T/v.json"
		is_success "CHECK $v after ADD"
		;;
	esac
	hl DEL "ver-$v" "$T/v.json"
	is_success "DEL $v"
done
is "all released" "$(ipam_files "$DATA/vnet")" ""
conf "$T/v.json" 1.0.0 vnet "$DUAL"
hl CHECK ver-1.0.0 "$T/v.json"
ok_if "CHECK after DEL fails" test "$RC" -ne 0 -a "$(json_get "${OUT:-null}" '.code // 0')" -gt 0

# ---- allocation order, gateway, exhaustion, duplicates ----------------------------------

conf "$T/rr.json" 1.0.0 rr '{"ranges": [[{"subnet": "198.18.1.0/29"}]]}'
addr() { json_get "$OUT" '.ips[0].address // empty'; }
hl ADD rr-a "$T/rr.json"; is "first address is .2 (gateway .1 skipped)" "$(addr)" 198.18.1.2/29
ok_jq "default gateway is .1" "$OUT" '.ips[0].gateway == "198.18.1.1"'
hl ADD rr-b "$T/rr.json"; is "then .3" "$(addr)" 198.18.1.3/29
hl DEL rr-a "$T/rr.json"
hl ADD rr-c "$T/rr.json"; is "round robin: .4 after releasing .2" "$(addr)" 198.18.1.4/29
hl ADD rr-d "$T/rr.json"; is ".5" "$(addr)" 198.18.1.5/29
hl ADD rr-e "$T/rr.json"; is ".6 (broadcast .7 never)" "$(addr)" 198.18.1.6/29
hl ADD rr-f "$T/rr.json"; is "wraps to .2" "$(addr)" 198.18.1.2/29
ok_if "last_reserved_ip.0 = 198.18.1.2, no newline" cmp "$DATA/rr/last_reserved_ip.0" <(printf 198.18.1.2)
before=$(listing "$DATA/rr")
hl ADD rr-g "$T/rr.json"
is_error_json "exhausted subnet: error code 100" 100
ok_jq "error JSON carries cniVersion" "$OUT" '.cniVersion == "1.0.0"'
is "exhausted ADD writes nothing" "$(listing "$DATA/rr")" "$before"
hl ADD rr-b "$T/rr.json"
is_error_json "second ADD of the same attachment: code 102" 102
is "duplicate ADD writes nothing" "$(listing "$DATA/rr")" "$before"
hl ADD rr-b "$T/rr.json" CNI_IFNAME=eth1
is_error_json "same container, other ifname: exhausted too (no duplicate error)" 100
for c in b c d e f; do hl DEL "rr-$c" "$T/rr.json"; done
hl DEL rr-f "$T/rr.json"
is_success "DEL twice is fine"
hl DEL never-added "$T/rr.json"
is_success "DEL of an unknown container is fine"
is "nothing left in rr" "$(ipam_files "$DATA/rr")" ""

conf "$T/gw.json" 1.0.0 gw '{"ranges": [[{"subnet": "198.18.2.0/29", "rangeStart": "198.18.2.2", "rangeEnd": "198.18.2.4", "gateway": "198.18.2.3"}]]}'
hl ADD gw-a "$T/gw.json"; is "rangeStart honoured" "$(addr)" 198.18.2.2/29
ok_jq "explicit gateway in result" "$OUT" '.ips[0].gateway == "198.18.2.3"'
hl ADD gw-b "$T/gw.json"; is "gateway inside the range skipped" "$(addr)" 198.18.2.4/29
hl ADD gw-c "$T/gw.json"; is_error_json "rangeEnd honoured: exhausted" 100
hl DEL gw-a "$T/gw.json"; hl DEL gw-b "$T/gw.json"
conf "$T/gw2.json" 1.0.0 gw2 '{"ranges": [[{"subnet": "198.18.2.8/29", "gateway": "198.18.2.14"}]]}'
hl ADD gw2-a "$T/gw2.json"; is "gateway elsewhere: .1 of the subnet is allocatable" "$(addr)" 198.18.2.9/29
hl DEL gw2-a "$T/gw2.json"

# two ranges in one set, allocation moves on to the next
conf "$T/two.json" 1.0.0 two '{"ranges": [[{"subnet": "198.18.3.0/30"}, {"subnet": "198.18.3.8/30"}]]}'
hl ADD two-a "$T/two.json"; is "first range (.2)" "$(addr)" 198.18.3.2/30
hl ADD two-b "$T/two.json"; is "then the second range's first address" "$(addr)" 198.18.3.10/30
ok_jq "second range's gateway" "$OUT" '.ips[0].gateway == "198.18.3.9"'
hl DEL two-a "$T/two.json"; hl DEL two-b "$T/two.json"

# IPv6: the last address of the subnet is allocatable
conf "$T/v6.json" 1.0.0 v6 '{"ranges": [[{"subnet": "2001:db8:7::/126"}]]}'
hl ADD v6-a "$T/v6.json"; is "v6: ::2 first (gateway ::1)" "$(addr)" 2001:db8:7::2/126
hl ADD v6-b "$T/v6.json"; is "v6: then the all-ones address" "$(addr)" 2001:db8:7::3/126
hl ADD v6-c "$T/v6.json"; is_error_json "v6: exhausted" 100
hl DEL v6-a "$T/v6.json"; hl DEL v6-b "$T/v6.json"

# legacy top-level subnet and runtimeConfig.ipRanges are prepended to ranges
conf "$T/leg.json" 0.3.1 leg '{"subnet": "198.18.14.0/24", "gateway": "198.18.14.254", "ranges": [[{"subnet": "2001:db8:14::/64"}]]}'
hl ADD leg-a "$T/leg.json"
ok_jq "legacy ipam.subnet/gateway form the first range set" "$OUT" \
	'.ips[0].address == "198.18.14.1/24" and .ips[0].gateway == "198.18.14.254" and (.ips[1].address | startswith("2001:db8:14::"))'
hl DEL leg-a "$T/leg.json"
conf "$T/ipr.json" 1.0.0 ipr '{"ranges": [[{"subnet": "198.18.15.0/24"}]]}' \
	'{"runtimeConfig": {"ipRanges": [[{"subnet": "2001:db8:15::/64"}]]}}'
hl ADD ipr-a "$T/ipr.json"
ok_jq "runtimeConfig.ipRanges prepended" "$OUT" \
	'(.ips | length) == 2 and (.ips[0].address | startswith("2001:db8:15::")) and .ips[1].address == "198.18.15.2/24"'
hl DEL ipr-a "$T/ipr.json"
is "v6/legacy/ipRanges released" "$(ipam_files "$DATA/v6")$(ipam_files "$DATA/leg")$(ipam_files "$DATA/ipr")" ""

# ---- requested addresses ------------------------------------------------------------------

conf "$T/rq.json" 1.0.0 rq '{"ranges": [[{"subnet": "198.18.4.0/24"}], [{"subnet": "2001:db8:4::/64"}]]}'
hl ADD rq-a "$T/rq.json" "CNI_ARGS=IP=198.18.4.10"
ok_jq "CNI_ARGS IP honoured (prefix from the subnet)" "$OUT" '.ips[0].address == "198.18.4.10/24" and (.ips | length) == 2'
ok_if "...file written" test -f "$DATA/rq/198.18.4.10"
hl ADD rq-b "$T/rq.json" "CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAME=p;IP=198.18.4.11"
ok_jq "CNI_ARGS IP with IgnoreUnknown and other keys" "$OUT" '.ips[0].address == "198.18.4.11/24"'
conf "$T/rq2.json" 1.0.0 rq '{"ranges": [[{"subnet": "198.18.4.0/24"}], [{"subnet": "2001:db8:4::/64"}]]}' \
	'{"args": {"cni": {"ips": ["198.18.4.12/16", "2001:db8:4::12"]}}}'
hl ADD rq-c "$T/rq2.json"
ok_jq "args.cni.ips honoured in both families" "$OUT" \
	'.ips[0].address == "198.18.4.12/24" and .ips[1].address == "2001:db8:4::12/64"'
conf "$T/rq3.json" 1.0.0 rq '{"ranges": [[{"subnet": "198.18.4.0/24"}], [{"subnet": "2001:db8:4::/64"}]]}' \
	'{"runtimeConfig": {"ips": ["198.18.4.13"]}}'
hl ADD rq-d "$T/rq3.json"
ok_jq "runtimeConfig.ips honoured" "$OUT" '.ips[0].address == "198.18.4.13/24"'
conf "$T/rq4.json" 1.0.0 rq '{"ranges": [[{"subnet": "198.18.4.0/24"}], [{"subnet": "2001:db8:4::/64"}]]}' \
	'{"runtimeConfig": {"ips": ["198.18.4.22"]}, "args": {"cni": {"ips": ["198.18.4.21"]}}}'
hl ADD rq-e "$T/rq4.json" "CNI_ARGS=IP=198.18.4.20"
ok_jq "runtimeConfig.ips wins over args.cni.ips and CNI_ARGS (conventions precedence)" "$OUT" \
	'.ips[0].address == "198.18.4.22/24"'
ok_if "...and the others are not reserved" test ! -e "$DATA/rq/198.18.4.20" -a ! -e "$DATA/rq/198.18.4.21"
before=$(listing "$DATA/rq" ! -name 'last_reserved_ip.*')
hl ADD rq-f "$T/rq.json" "CNI_ARGS=IP=198.18.4.10"
is_error_json "requested address taken: code 101" 101
hl ADD rq-f "$T/rq.json" "CNI_ARGS=IP=198.18.4.1"
is_error "requesting the gateway fails"
hl ADD rq-f "$T/rq.json" "CNI_ARGS=IP=198.18.5.1"
is_error "requesting an address outside every range fails"
hl ADD rq-f "$T/rq.json" "CNI_ARGS=IP=not-an-ip"
is_error "requesting garbage fails"
hl ADD rq-f "$T/rq.json" "CNI_ARGS=FOO=bar"
is_error_json "unknown CNI_ARGS key without IgnoreUnknown: code 4" 4
is "failed requests reserve nothing (no half allocation of the v6 family)" \
	"$(listing "$DATA/rq" ! -name 'last_reserved_ip.*')" "$before"
for c in a b c d e; do hl DEL "rq-$c" "$T/rq.json"; done
is "requested addresses released" "$(ipam_files "$DATA/rq")" ""

# ---- on-disk format ---------------------------------------------------------------

conf "$T/fmt.json" 0.4.0 fmt '{"ranges": [[{"subnet": "198.18.6.0/24"}], [{"subnet": "2001:DB8:6::/64", "rangeStart": "2001:db8:6::a"}]]}'
hl ADD fmt-1 "$T/fmt.json" CNI_IFNAME=net7
is_success "ADD for the format check"
ok_if "v4 file: exact content <id>\\r\\n<ifname>" cmp "$DATA/fmt/198.18.6.2" <(printf 'fmt-1\r\nnet7')
ok_if "v6 file: canonical lowercase name" cmp "$DATA/fmt/2001:db8:6::a" <(printf 'fmt-1\r\nnet7')
is "IP file mode 0600" "$(file_mode "$DATA/fmt/198.18.6.2")" 600
ok_if "last_reserved_ip.0 has no newline" cmp "$DATA/fmt/last_reserved_ip.0" <(printf 198.18.6.2)
ok_if "last_reserved_ip.1 per range set index" cmp "$DATA/fmt/last_reserved_ip.1" <(printf 2001:db8:6::a)
ok_if "lock file exists, empty" test -f "$DATA/fmt/lock" -a ! -s "$DATA/fmt/lock"
# Besides the reference's files: cnic's attachment hint and boot marker
# (docs/host-local.md), dotfiles the reference reads but never matches.
is "nothing else in the network dir" "$(ls -A "$DATA/fmt" | sed 's/^\.cnic-hint\.[0-9a-f]\{16\}$/.cnic-hint.HEX/' | sort | tr '\n' ' ')" \
	".cnic-boot .cnic-hint.HEX 198.18.6.2 2001:db8:6::a last_reserved_ip.0 last_reserved_ip.1 lock "
is "the hint: owner, boot, addresses" "$(cat "$DATA/fmt"/.cnic-hint.* | tr '\r\n' '|:')" \
	"fmt-1|:net7:boot=$(cat /proc/sys/kernel/random/boot_id):198.18.6.2:2001:db8:6::a"
is "the boot marker" "$(cat "$DATA/fmt/.cnic-boot")" "boot=$(cat /proc/sys/kernel/random/boot_id)"
ok_if "nothing of cnic's outside the network dir" test ! -e "$DATA/.cnic"
hl CHECK fmt-1 "$T/fmt.json" CNI_IFNAME=net7
is_success "CHECK 0.4.0 finds the reservation"
hl DEL fmt-1 "$T/fmt.json" CNI_IFNAME=eth0
is "DEL with another ifname keeps the reservation" "$(ipam_files "$DATA/fmt" | wc -l)" 2
# legacy files (id only, written before ifname support) are released too
printf 'legacy-1' >"$DATA/fmt/198.18.6.77"
hl DEL legacy-1 "$T/fmt.json"
ok_if "DEL releases a legacy id-only file" test ! -e "$DATA/fmt/198.18.6.77"
hl DEL fmt-1 "$T/fmt.json" CNI_IFNAME=net7
is "format test released: only the reference's own files are left" "$(ls -A "$DATA/fmt" | sort | tr '\n' ' ')" \
	"last_reserved_ip.0 last_reserved_ip.1 lock "

# ---- parallel ADD / DEL -----------------------------------------------------------

N=200
[ "${VALGRIND:-0}" == 1 ] && N=30
conf "$T/par.json" 1.0.0 par '{"ranges": [[{"subnet": "198.18.8.0/24"}]]}'
mkdir -p "$T/par"
pids=()
for ((i = 0; i < N; i++)); do
	(hl ADD "par-$i" "$T/par.json"; printf '%s %s\n' "$RC" "$(json_get "$OUT" '.ips[0].address // "none"' 2>/dev/null)" >"$T/par/$i") &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
is "$N parallel ADDs all succeed" "$(cat "$T"/par/* | awk '$1 != 0' | head -3)" ""
is "$N parallel ADDs: $N distinct addresses" "$(cat "$T"/par/* | awk '{print $2}' | sort -u | grep -c /24)" "$N"
is "$N reservation files" "$(ipam_files "$DATA/par" | wc -l)" "$N"
ok_if "every file names its owner" bash -c "for i in \$(seq 0 $((N - 1))); do
	a=\$(awk '{print \$2}' $T/par/\$i); a=\${a%/24}
	cmp -s $DATA/par/\$a <(printf 'par-%s\\r\\neth0' \$i) || { echo \"bad \$a for \$i\"; exit 1; }; done"
rm -f "$T"/par/*
pids=()
for ((i = 0; i < N; i++)); do
	(hl DEL "par-$i" "$T/par.json"; printf '%s\n' "$RC" >"$T/par/$i") &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
is "$N parallel DELs all succeed" "$(grep -vx 0 "$T"/par/* | head -3)" ""
is "no reservation left after parallel DELs" "$(ipam_files "$DATA/par")" ""

# ---- GC and STATUS (1.1.0) ---------------------------------------------------------

GCIPAM='{"ranges": [[{"subnet": "198.18.10.0/24"}]]}'
conf "$T/gc.json" 1.1.0 gcnet "$GCIPAM"
conf "$T/gco.json" 1.1.0 gcother '{"ranges": [[{"subnet": "198.18.11.0/24"}]]}'
for c in g1 g2 g3; do hl ADD "$c" "$T/gc.json"; done
hl ADD g1 "$T/gc.json" CNI_IFNAME=eth1
hl ADD g2 "$T/gco.json"
owners() { (cd "$DATA/$1" 2>/dev/null && for f in $(ipam_files .); do tr '\r\n' ':' <"$f"; echo; done) | sort | tr '\n' ' '; }
is "GC setup: 4 attachments" "$(owners gcnet)" "g1::eth0 g1::eth1 g2::eth0 g3::eth0 "
conf "$T/gc1.json" 1.1.0 gcnet "$GCIPAM" \
	'{"cni.dev/valid-attachments": [{"containerID": "g1", "ifname": "eth0"}, {"containerID": "g3", "ifname": "eth0"}]}'
cni "$NODE" "$HL" GC "" "" "" "$T/gc1.json"
is_success "GC with cni.dev/valid-attachments"
is "GC keeps exactly the valid attachments" "$(owners gcnet)" "g1::eth0 g3::eth0 "
is "GC leaves other networks alone" "$(owners gcother)" "g2::eth0 "
conf "$T/gc2.json" 1.1.0 gcnet "$GCIPAM" '{"cni.dev/attachments": [{"containerID": "g3", "ifname": "eth0"}]}'
cni "$NODE" "$HL" GC "" "" "" "$T/gc2.json"
is_success "GC with the misspelled cni.dev/attachments"
is "misspelled key honoured" "$(owners gcnet)" "g3::eth0 "
conf "$T/gc3.json" 1.1.0 gcnet "$GCIPAM" '{"cni.dev/valid-attachments": []}'
cni "$NODE" "$HL" GC "" "" "" "$T/gc3.json"
is_success "GC with an empty valid list"
is "empty valid list releases everything" "$(ipam_files "$DATA/gcnet")" ""
ok_if "GC keeps the lock file" test -f "$DATA/gcnet/lock"
hl DEL g2 "$T/gco.json"
cni "$NODE" "$HL" STATUS "" "" "" "$T/gc.json"
is_success "STATUS 1.1.0 succeeds"
is "STATUS prints nothing" "$OUT" ""

# ---- through libcni (cnitool) ----------------------------------------------------------

need_cnitool
mkdir -p "$T/net.d"
jq -n --arg d "$DATA" '{cniVersion: "1.0.0", name: "toolnet", plugins: [
	{type: "host-local", capabilities: {ips: true},
	 ipam: {type: "host-local", dataDir: $d, ranges: [[{subnet: "198.18.12.0/24"}], [{subnet: "2001:db8:12::/64"}]]}}]}' \
	>"$T/net.d/10-toolnet.conflist"
cnitool_run "$NODE" add toolnet "$CNS" CNI_CONTAINERID=tool-1
is_success "cnitool add"
ok_jq "cnitool add result" "$OUT" '.cniVersion == "1.0.0" and .ips[0].address == "198.18.12.2/24" and (.ips[1].address | startswith("2001:db8:12::"))'
ok_if "libcni cached the result under CNI_CACHE_DIR" test -f "$T/cache/results/toolnet-tool-1-eth0"
cnitool_run "$NODE" check toolnet "$CNS" CNI_CONTAINERID=tool-1
is_success "cnitool check"
cnitool_run "$NODE" add toolnet "$CNS" CNI_CONTAINERID=tool-2 CNI_IFNAME=net1 'CAP_ARGS={"ips":["198.18.12.77/24"]}'
ok_jq "cnitool add with CAP_ARGS ips (runtimeConfig)" "$OUT" '.ips[0].address == "198.18.12.77/24"'
cnitool_run "$NODE" add toolnet "$CNS" CNI_CONTAINERID=tool-3 "CNI_ARGS=IgnoreUnknown=1;IP=198.18.12.78"
ok_jq "cnitool add with CNI_ARGS IP" "$OUT" '.ips[0].address == "198.18.12.78/24"'
cnitool_run "$NODE" add toolnet "$CNS" CNI_CONTAINERID=tool-1
ok_if "cnitool duplicate add fails with the plugin's error" test "$RC" -ne 0
cnitool_run "$NODE" del toolnet "$CNS" CNI_CONTAINERID=tool-1
is_success "cnitool del"
cnitool_run "$NODE" del toolnet "$CNS" CNI_CONTAINERID=tool-2 CNI_IFNAME=net1
cnitool_run "$NODE" del toolnet "$CNS" CNI_CONTAINERID=tool-3
cnitool_run "$NODE" del toolnet "$CNS" CNI_CONTAINERID=tool-3
is_success "cnitool del twice"
is "cnitool: no reservations left" "$(ipam_files "$DATA/toolnet")" ""
is "cnitool: result cache emptied" "$(ls -A "$T/cache/results" 2>/dev/null)" ""

# chain: loopback then host-local (host-local ignores prevResult and returns its own result)
jq -n --arg d "$DATA" '{cniVersion: "1.0.0", name: "chain", plugins: [{type: "loopback"},
	{type: "host-local", ipam: {type: "host-local", dataDir: $d, ranges: [[{subnet: "198.18.13.0/24"}]]}}]}' \
	>"$T/net.d/20-chain.conflist"
cnitool_run "$NODE" add chain "$CNS" CNI_CONTAINERID=chain-1
is_success "cnitool add through a loopback -> host-local chain"
ok_jq "chain result is host-local's" "$OUT" '.ips[0].address == "198.18.13.2/24"'
cnitool_run "$NODE" check chain "$CNS" CNI_CONTAINERID=chain-1
is_success "cnitool check of the chain"
cnitool_run "$NODE" del chain "$CNS" CNI_CONTAINERID=chain-1
is_success "cnitool del of the chain"
is "chain: no reservation left" "$(ipam_files "$DATA/chain")" ""

# ---- nothing left behind -----------------------------------------------------------------

assert_no_links "$CTR"
assert_no_links "$NODE"
assert_no_ipam_files "$DATA"/*
done_testing
