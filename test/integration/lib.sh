# shellcheck shell=bash
# SPDX-License-Identifier: Apache-2.0
#
# Shared library for the integration tests (bash, root).  Source it first:
#
#	. "$(dirname "$0")/lib.sh"
#
# It gives every test a private temp dir ($T), throwaway network namespaces,
# a way to exec a plugin with the CNI environment (`cni`), TAP helpers and
# leak checks.  Everything created through it is removed at exit, also when
# the test dies half way.  Nothing here touches the machine's own netns.
#
# Variables
#   ROOT     repo root              BIN   our plugins ($ROOT/bin unless set)
#   REF      reference plugins (/usr/lib/cni)
#   CNITOOL  libcni-based CLI ($ROOT/build/cnitool), built by need_cnitool
#   T        private temp dir, removed at exit
#   OUT ERR RC   stdout, stderr and exit status of the last cni/cnitool_run call
#
# Environment knobs
#   VALGRIND=1     run our plugins (not $REF's) under valgrind memcheck (exit 97 on errors)
#   CNI_TIMEOUT=S  kill a plugin call after S seconds (default 60); RC is then 124
#   TEST_VERBOSE=1 print every plugin call as a diag line

set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=${BIN:-$ROOT/bin}
REF=${REF:-/usr/lib/cni}
CNITOOL=${CNITOOL:-$ROOT/build/cnitool}
T=$(mktemp -d "${TMPDIR:-/tmp}/cnic-test.XXXXXX") || { echo "Bail out! mktemp failed"; exit 1; }
OUT=""
ERR=""
RC=0

_tap_n=0
_tap_pass=0
_tap_fail=0
_ns_count=0
_ns_list=()
_pid_list=()
_exit_cmds=()
_call_n=0
_done=0

VALGRIND_CMD=(valgrind --error-exitcode=97 --leak-check=full --errors-for-leak-kinds=definite -q)

# ---- TAP ------------------------------------------------------------------

# Comment line(s); multi-line text becomes several "# " lines.
diag()
{
	local line
	while IFS= read -r line; do
		printf '# %s\n' "$line"
	done <<<"$*"
}

pass()
{
	_tap_n=$((_tap_n + 1))
	_tap_pass=$((_tap_pass + 1))
	printf 'ok %d - %s\n' "$_tap_n" "$1"
}

# fail "desc" [diagnostic...]
fail()
{
	_tap_n=$((_tap_n + 1))
	_tap_fail=$((_tap_fail + 1))
	printf 'not ok %d - %s\n' "$_tap_n" "$1"
	shift
	[ $# -gt 0 ] && [ -n "$*" ] && diag "$*"
	return 0
}

# ok_if "desc" cmd...: ok when cmd exits 0; its output is shown only on failure.
ok_if()
{
	local desc=$1 rc=0 f="$T/.okif.$BASHPID"
	shift
	"$@" >"$f" 2>&1 || rc=$?
	if [ "$rc" -eq 0 ]; then
		pass "$desc"
	else
		fail "$desc" "command failed (exit $rc): $*
$(head -c 2000 "$f")"
	fi
	rm -f "$f"
	return 0
}

# is "desc" ACTUAL EXPECTED
is()
{
	if [ "$2" == "$3" ]; then
		pass "$1"
	else
		fail "$1" "     got: '$2'
expected: '$3'"
	fi
}

# isnt "desc" ACTUAL UNEXPECTED
isnt()
{
	if [ "$2" != "$3" ]; then
		pass "$1"
	else
		fail "$1" "got '$2', expected anything else"
	fi
}

# like "desc" ACTUAL REGEX (bash ERE)
like()
{
	if [[ $2 =~ $3 ]]; then
		pass "$1"
	else
		fail "$1" "'$2' does not match /$3/"
	fi
}

# ok_jq "desc" JSON_OR_FILE FILTER: ok when `jq -e FILTER` is true.
ok_jq()
{
	local desc=$1 src=$2 filter=$3
	# jq -e exits 0 on empty input: an empty result must not pass.
	if [ -z "$(_jq_src "$src" -c . 2>/dev/null)" ]; then
		fail "$desc" "no JSON to check (empty input) for jq -e '$filter'"
	elif _jq_src "$src" -e "$filter" >/dev/null 2>&1; then
		pass "$desc"
	else
		fail "$desc" "jq -e '$filter' is false on: $(_jq_src "$src" -c . 2>&1 | head -c 1500)"
	fi
}

# Print "1..N" and "N passed, N failed"; exit 1 if anything failed.  Removes the
# test's netns first and checks none is left behind.
done_testing()
{
	_done=1
	_teardown
	local left
	left=$(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^cnic-.*-$$-[0-9]+$" || true)
	if [ -z "$left" ]; then
		pass "no netns left behind"
	else
		fail "no netns left behind" "$left"
	fi
	printf '1..%d\n' "$_tap_n"
	printf '%d passed, %d failed\n' "$_tap_pass" "$_tap_fail"
	[ "$_tap_fail" -eq 0 ] || exit 1
	exit 0
}

# Give up on the whole file (TAP "Bail out!"); counted as a failure.
bail_out()
{
	printf 'Bail out! %s\n' "$*"
	exit 1
}

# skip_all "reason": nothing to test here (prints 1..0 # SKIP).
skip_all()
{
	_done=1
	printf '1..0 # SKIP %s\n' "$*"
	printf '0 passed, 0 failed\n'
	exit 0
}

# ---- cleanup --------------------------------------------------------------

# at_exit "shell command": run at exit, before the netns are deleted.
at_exit()
{
	_exit_cmds+=("$1")
}

register_pid()
{
	_pid_list+=("$1")
}

_cleanup_netns()
{
	local ns
	for ns in "${_ns_list[@]}"; do
		[ -e "/run/netns/$ns" ] && ip netns del "$ns" 2>/dev/null
	done
	_ns_list=()
}

# Exit commands, then our pids, then our netns; safe to call twice.
_teardown()
{
	local c p i
	for c in "${_exit_cmds[@]}"; do
		eval "$c" >/dev/null 2>&1 || true
	done
	_exit_cmds=()
	for p in "${_pid_list[@]}"; do
		kill "$p" 2>/dev/null || continue
		for ((i = 0; i < 100; i++)); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.02
		done
		kill -KILL "$p" 2>/dev/null || true
	done
	_pid_list=()
	_cleanup_netns
}

_lib_exit()
{
	local rc=$?
	trap - EXIT INT TERM HUP
	_teardown
	rm -rf "$T"
	if [ "$_done" -eq 0 ]; then
		printf 'not ok %d - test script exited before done_testing (status %d)\n' \
			$((_tap_n + 1)) "$rc"
		printf '%d passed, %d failed\n' "$_tap_pass" $((_tap_fail + 1))
		[ "$rc" -eq 0 ] && rc=1
	fi
	exit "$rc"
}
trap _lib_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# ---- namespaces -----------------------------------------------------------

# netns_new VAR [prefix]: a fresh netns with lo up; its name goes into VAR.
netns_new()
{
	local var=$1 prefix=${2:-t} name
	_ns_count=$((_ns_count + 1))
	name="cnic-$prefix-$$-$_ns_count"
	if ! ip netns add "$name"; then
		bail_out "cannot create netns $name"
	fi
	_ns_list+=("$name")
	ip -n "$name" link set lo up || bail_out "cannot bring lo up in $name"
	printf -v "$var" '%s' "$name"
}

netns_path()
{
	printf '/run/netns/%s\n' "$1"
}

# netns_del NAME: delete one of ours before exit (e.g. to test DEL without a netns).
netns_del()
{
	local ns keep=()
	ip netns del "$1" 2>/dev/null
	for ns in "${_ns_list[@]}"; do
		[ "$ns" == "$1" ] || keep+=("$ns")
	done
	_ns_list=("${keep[@]}")
}

# in_ns NS cmd...: run cmd in netns NS ("-": the current one).
in_ns()
{
	local ns=$1
	shift
	if [ "$ns" == "-" ]; then
		"$@"
	else
		nsenter --net="/run/netns/$ns" -- "$@"
	fi
}

# links_in NS: link names in NS, one a line, without the @peer suffix.
links_in()
{
	in_ns "$1" ip -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }'
}

# ---- plugin calls ---------------------------------------------------------

# cni NS PLUGIN VERB CID NETNS_PATH IFNAME CONFIG_FILE [VAR=VAL | !VAR ...]
#
# Exec PLUGIN (a path) inside netns NS ("-": current) with a clean environment
# holding PATH, CNI_COMMAND=VERB, CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME and
# CNI_PATH=$BIN; VAR=VAL adds or overrides a variable, !VAR removes one, and an
# empty CID/NETNS_PATH/IFNAME/VERB ("") leaves that variable unset.
# CONFIG_FILE is stdin ("-" or "": /dev/null).  Sets OUT, ERR, RC; never fails.
cni()
{
	local ns=$1 plugin=$2 verb=$3 cid=$4 netns=$5 ifname=$6 conf=$7
	shift 7
	local -A env=()
	local -a order=() envv=() cmd=()
	local a k
	_envset() { [ -v "env[$1]" ] || order+=("$1"); env[$1]=$2; }
	_envset PATH "/usr/sbin:/usr/bin:/sbin:/bin"
	[ -n "$verb" ] && _envset CNI_COMMAND "$verb"
	[ -n "$cid" ] && _envset CNI_CONTAINERID "$cid"
	[ -n "$netns" ] && _envset CNI_NETNS "$netns"
	[ -n "$ifname" ] && _envset CNI_IFNAME "$ifname"
	_envset CNI_PATH "$BIN"
	for k in ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS; do
		[ -n "${!k:-}" ] && _envset "$k" "${!k}"
	done
	for a in "$@"; do
		case $a in
		!*) unset "env[${a#!}]" ;;
		*=*) _envset "${a%%=*}" "${a#*=}" ;;
		*) echo "cni: bad env argument '$a'" >&2 ;;
		esac
	done
	for k in "${order[@]}"; do
		[ -v "env[$k]" ] && envv+=("$k=${env[$k]}")
	done
	[ -z "$conf" ] || [ "$conf" == "-" ] && conf=/dev/null

	cmd=(env -i "${envv[@]}" timeout -k 5 "${CNI_TIMEOUT:-60}")
	# Only our plugins: the reference Go binaries do not run under memcheck.
	[ "${VALGRIND:-0}" == 1 ] && [[ $plugin != "$REF"/* ]] && cmd+=("${VALGRIND_CMD[@]}")
	cmd+=("$plugin")
	[ "$ns" != "-" ] && cmd=(nsenter --net="/run/netns/$ns" -- "${cmd[@]}")

	_call_n=$((_call_n + 1))
	local f="$T/.call.$BASHPID.$_call_n"
	RC=0
	"${cmd[@]}" <"$conf" >"$f.out" 2>"$f.err" || RC=$?
	OUT=$(<"$f.out")
	ERR=$(<"$f.err")
	rm -f "$f.out" "$f.err"
	if [ "${TEST_VERBOSE:-0}" == 1 ]; then
		diag "cni $verb ${plugin##*/} cid=$cid if=$ifname rc=$RC out=$(head -c 300 <<<"$OUT")"
	fi
	return 0
}

# cni_json NS PLUGIN VERB CID NETNS_PATH IFNAME JSON [VAR=VAL ...]: as cni, with
# the config given inline.
cni_json()
{
	local a=("$@")
	_call_n=$((_call_n + 1))
	local f="$T/.conf.$BASHPID.$_call_n"
	printf '%s' "$7" >"$f"
	a[6]=$f
	cni "${a[@]}"
	rm -f "$f"
}

# nl_requests NS PLUGIN VERB CID NETNS_PATH IFNAME JSON [VAR=VAL ...]: as cni_json, under
# strace; NL_REQ is then the number of netlink messages the plugin sent (sendmsg and sendto
# calls: each carries one request) and NL_SETNS its setns calls (two per visit to another
# namespace), so a test can hold a verb to its round trips.  Never under valgrind (it would
# count valgrind's work); callers check that strace is there.
nl_requests()
{
	local w=$T/.nlreq.$BASHPID tr=$T/.nlreq.$BASHPID.trace
	local a=("$@")
	printf '#!/bin/sh\nexec strace -f -qq -e trace=sendmsg,sendto,setns -o %q %q\n' "$tr" "$2" >"$w"
	chmod +x "$w"
	a[1]=$w
	VALGRIND=0 cni_json "${a[@]}"
	# shellcheck disable=SC2034 # read by the tests
	NL_REQ=$(grep -cE '^[0-9]+ +(sendmsg|sendto)\(' "$tr" || true)
	# shellcheck disable=SC2034 # read by the tests
	NL_SETNS=$(grep -cE '^[0-9]+ +setns\(' "$tr" || true)
	rm -f "$w" "$tr"
}

# crashed: true when the last call died from a signal, timed out, or a
# sanitizer / valgrind reported an error.
crashed()
{
	[ "$RC" -ge 124 ] && return 0
	[ "$RC" -eq 97 ] && [ "${VALGRIND:-0}" == 1 ] && return 0
	grep -qE 'AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:|==[0-9]+== (Invalid|Conditional|Use of|Syscall param)' <<<"$ERR" && return 0
	return 1
}

# is_error_json "desc" CODE: the last call failed with exit status 1 (not a
# crash) and printed the spec's error JSON with that code and a message.
is_error_json()
{
	local desc=$1 code=$2
	if crashed; then
		fail "$desc" "crash: rc=$RC stderr: $(head -c 1500 <<<"$ERR")"
	elif [ "$RC" -eq 0 ]; then
		fail "$desc" "succeeded, expected error code $code: $(head -c 1000 <<<"$OUT")"
	elif ! jq -e --argjson c "$code" '.code == $c and (.msg | type == "string" and length > 0)' \
		>/dev/null 2>&1 <<<"$OUT"; then
		fail "$desc" "rc=$RC, expected code $code, stdout: $(head -c 1000 <<<"$OUT")
stderr: $(head -c 500 <<<"$ERR")"
	else
		pass "$desc"
	fi
}

# is_error "desc": like is_error_json, with any code.
is_error()
{
	local desc=$1
	if crashed; then
		fail "$desc" "crash: rc=$RC stderr: $(head -c 1500 <<<"$ERR")"
	elif [ "$RC" -eq 0 ]; then
		fail "$desc" "succeeded, expected an error: $(head -c 1000 <<<"$OUT")"
	elif ! jq -e '(.code | type == "number") and (.msg | type == "string" and length > 0)' \
		>/dev/null 2>&1 <<<"$OUT"; then
		fail "$desc" "rc=$RC, no error JSON on stdout: $(head -c 1000 <<<"$OUT")
stderr: $(head -c 500 <<<"$ERR")"
	else
		pass "$desc"
	fi
}

# is_success "desc": the last call exited 0 and did not crash.
is_success()
{
	if [ "$RC" -eq 0 ] && ! crashed; then
		pass "$1"
	else
		fail "$1" "rc=$RC stdout: $(head -c 1000 <<<"$OUT")
stderr: $(head -c 1000 <<<"$ERR")"
	fi
}

# ---- JSON -----------------------------------------------------------------

_jq_src()
{
	local src=$1
	shift
	if [ -f "$src" ]; then
		jq "$@" "$src"
	else
		jq "$@" <<<"$src"
	fi
}

# nft_attachment_elems NS: how many nftables set elements in NS belong to
# attachments.  The shared per-subnet exemption elements of ipMasq (sets
# subnet4/subnet6) and portmap (sets <net>-hs4/-hs6) are network state, like
# the bridge itself: DEL keeps them for the subnet's other containers and GC
# removes them once the subnet is empty, so they are not counted.
nft_attachment_elems()
{
	in_ns "$1" nft -j list ruleset 2>/dev/null |
		jq '[.nftables[] | select(.set) | .set |
		     select((.name | test("^subnet[46]$|-hs[46]$")) | not) |
		     .elem // [] | length] | add // 0'
}

# json_get FILE_OR_STRING JQ_FILTER: raw (-r) output of the filter.
json_get()
{
	_jq_src "$1" -r "$2"
}

# ---- cnitool --------------------------------------------------------------

# need_cnitool: build $CNITOOL (offline, against Debian's libcni) if missing or stale.
need_cnitool()
{
	local src="$ROOT/test/cnitool"
	mkdir -p "$ROOT/build"
	(
		flock -w 300 9 || exit 1
		if [ -x "$CNITOOL" ] && [ -z "$(find "$src" -newer "$CNITOOL" -name '*.go' 2>/dev/null)" ]; then
			exit 0
		fi
		cd "$src" && GO111MODULE=off GOPATH=/usr/share/gocode GOFLAGS='' \
			GOCACHE="$ROOT/build/gocache" go build -o "$CNITOOL" . >&2
	) 9>"$ROOT/build/.cnitool.lock" || bail_out "cannot build cnitool"
}

# need_gocni: build $GOCNI (test/gocni, offline against Debian's go-cni) if
# missing or stale.
GOCNI=${GOCNI:-$ROOT/build/gocni}
need_gocni()
{
	local src="$ROOT/test/gocni"
	mkdir -p "$ROOT/build"
	(
		flock -w 300 9 || exit 1
		if [ -x "$GOCNI" ] && [ -z "$(find "$src" -newer "$GOCNI" -name '*.go' 2>/dev/null)" ]; then
			exit 0
		fi
		cd "$src" && GO111MODULE=off GOPATH=/usr/share/gocode GOFLAGS='' \
			GOCACHE="$ROOT/build/gocache" go build -o "$GOCNI" . >&2
	) 9>"$ROOT/build/.gocni.lock" || bail_out "cannot build gocni"
}

# cnitool_run NS VERB NETNAME NETNS_PATH [VAR=VAL | !VAR ...]
#
# Run $CNITOOL VERB NETNAME NETNS_PATH inside NS ("-": current) with
# CNI_PATH=$BIN, NETCONFPATH=$T/net.d, CNI_CACHE_DIR=$T/cache and
# CNI_IFNAME=eth0 unless overridden.  Sets OUT, ERR, RC; never fails.
cnitool_run()
{
	local ns=$1 verb=$2 net=$3 netns=$4
	shift 4
	local -a unset_=() set_=(PATH=/usr/sbin:/usr/bin:/sbin:/bin CNI_PATH="$BIN"
		NETCONFPATH="$T/net.d" CNI_CACHE_DIR="$T/cache" CNI_IFNAME=eth0)
	local a f
	for a in "$@"; do
		case $a in
		!*) unset_+=(-u "${a#!}") ;;
		*) set_+=("$a") ;;
		esac
	done
	_call_n=$((_call_n + 1))
	f="$T/.call.$BASHPID.$_call_n"
	RC=0
	in_ns "$ns" env -i "${unset_[@]}" "${set_[@]}" timeout -k 5 "${CNI_TIMEOUT:-60}" \
		"$CNITOOL" "$verb" "$net" "$netns" >"$f.out" 2>"$f.err" || RC=$?
	OUT=$(<"$f.out")
	ERR=$(<"$f.err")
	rm -f "$f.out" "$f.err"
	return 0
}

# ---- waiting --------------------------------------------------------------

# wait_for "desc" TIMEOUT_S cmd...: poll cmd every 20 ms; 1 (and a diag) on timeout.
wait_for()
{
	local desc=$1 timeout=$2 end
	shift 2
	end=$(($(date +%s%N) + timeout * 1000000000))
	while ! "$@" >/dev/null 2>&1; do
		if [ "$(date +%s%N)" -ge "$end" ]; then
			diag "timeout (${timeout}s) waiting for: $desc"
			return 1
		fi
		sleep 0.02
	done
	return 0
}

# ---- leak checks ----------------------------------------------------------

# ipam_files DIR: reservation files in a host-local network dir, one name a
# line: everything but the reference's lock and last_reserved_ip.* and cnic's
# attachment hints and boot marker (.cnic-hint.*, .cnic-boot), which live
# exactly as long as reservations do (ipam_leftovers counts them).
ipam_files()
{
	[ -d "$1" ] || return 0
	find "$1" -mindepth 1 -maxdepth 1 ! -name lock ! -name 'last_reserved_ip.*' \
		! -name '.cnic-hint.*' ! -name .cnic-boot -printf '%f\n' | sort
}

# ipam_leftovers DIR: what must be gone after the network's last DEL: all but
# the lock and last_reserved_ip.*, which the reference keeps too.
ipam_leftovers()
{
	[ -d "$1" ] || return 0
	find "$1" -mindepth 1 -maxdepth 1 ! -name lock ! -name 'last_reserved_ip.*' -printf '%f\n' | sort
}

# assert_no_links NS [allowed...]: only lo (and the allowed names) in NS.
assert_no_links()
{
	local ns=$1 extra
	shift
	extra=$(links_in "$ns" | grep -vxF -e lo "${@/#/-e}" || true)
	if [ -z "$extra" ]; then
		pass "no links left in $ns"
	else
		fail "no links left in $ns" "left: $(tr '\n' ' ' <<<"$extra")"
	fi
}

# assert_no_ipam_files DIR...: no reservation left in the host-local network dirs.
assert_no_ipam_files()
{
	local d left
	for d in "$@"; do
		left=$(ipam_leftovers "$d")
		if [ -z "$left" ]; then
			pass "no IPAM reservations left in ${d#"$T"/}"
		else
			fail "no IPAM reservations left in ${d#"$T"/}" "left: $(tr '\n' ' ' <<<"$left" | head -c 1000)"
		fi
	done
}

# assert_no_leaks NS [DIR...]: no links in NS, no reservations in the dirs.
assert_no_leaks()
{
	local ns=$1
	shift
	assert_no_links "$ns"
	[ $# -gt 0 ] && assert_no_ipam_files "$@"
	return 0
}

# file_mode PATH: octal permission bits, e.g. 600.
file_mode()
{
	stat -c %a "$1"
}

# uplink NODE_VAR EXT_VAR V4 [V6]: a node netns and an external one behind
# its uplink, the e2e tests' network: veth up0 (node, V4.1/24, V6::1/64) to
# eth0 (external, .2 and ::2, default routes via the node); the node forwards.
# V4 is the first three octets ("198.18.30"), V6 a /64 prefix ("2001:db8:30").
uplink()
{
	local n e
	netns_new n node
	netns_new e ext
	in_ns "$n" sysctl -qw net.ipv4.ip_forward=1
	[ -n "${4:-}" ] && in_ns "$n" sysctl -qw net.ipv6.conf.all.forwarding=1
	ip -n "$n" link add up0 type veth peer name eth0 netns "$e" || bail_out "uplink veth"
	ip -n "$n" addr add "$3.1/24" dev up0
	[ -n "${4:-}" ] && ip -n "$n" addr add "$4::1/64" dev up0 nodad
	ip -n "$n" link set up0 up
	ip -n "$e" addr add "$3.2/24" dev eth0
	[ -n "${4:-}" ] && ip -n "$e" addr add "$4::2/64" dev eth0 nodad
	ip -n "$e" link set eth0 up
	ip -n "$e" route add default via "$3.1"
	[ -n "${4:-}" ] && ip -n "$e" -6 route add default via "$4::1"
	printf -v "$1" '%s' "$n"
	printf -v "$2" '%s' "$e"
}

# require CMD...: skip the whole file when a tool is missing.
require()
{
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || bail_out "missing tool: $c"
	done
}

# conf_ipam BASE VERSION [TOP_EXTRA_JSON] [IPAM_JSON] [DATADIR]: the config BASE (a JSON
# object: name, type, ...) with cniVersion and ipam (none when IPAM_JSON is null), plus the
# extra keys, on stdout.  IPAM_JSON defaults to $V4; @D@ in it is the data dir (default $DATA).
conf_ipam()
{
	local base=$1 ipam=${4:-$V4}
	ipam=${ipam//@D@/${5:-$DATA}}
	jq -nc --arg v "$2" --argjson b "$base" --argjson x "${3:-{\}}" --argjson ipam "$ipam" \
		'{cniVersion: $v} + $b + (if $ipam then {ipam: $ipam} else {} end) + $x'
}

# conf_raw MEMBERS VERSION EXTRA_MEMBERS IPAM_JSON: the same without jq (~400 ms an exec
# in the VM); MEMBERS and EXTRA_MEMBERS (may be empty) are JSON object members.
conf_raw()
{
	printf '{"cniVersion": "%s", %s%s, "ipam": %s}' "$2" "$1" "${3:+, $3}" "$4"
}

# pings NS IP / no_ping NS IP: one busybox ping (-6 for an IPv6 address) is / is not
# answered (PING_WAIT s, default 2, to answer; 1 s to stay silent).
pings()
{
	local six=""
	[[ $2 == *:* ]] && six=-6
	in_ns "$1" busybox ping $six -c 1 -W "${PING_WAIT:-2}" "$2" >/dev/null 2>&1
}

no_ping()
{
	local six=""
	[[ $2 == *:* ]] && six=-6
	! in_ns "$1" busybox ping $six -c 1 -W 1 "$2" >/dev/null 2>&1
}

# jlink NS IFNAME FILTER: a jq filter over `ip -d -j link show`.
jlink()
{
	ip -d -j -n "$1" link show "$2" 2>/dev/null | jq -r ".[0] | $3"
}

# exec_ipam_tests RUN ADDR/LEN GATEWAY: the plugin (through RUN VERB CID NETNS_PATH JSON
# [VAR=VAL...], the script's wrapper, with its `conf`) with an exec'd IPAM plugin:
# fakeipam answers ADD with $T/ipam/result.json (ADDR/LEN via GATEWAY, then no address)
# and logs every call, so rollbacks can be seen.
exec_ipam_tests()
{
	local run=$1 addr=$2 gw=$3 fake='{"type": "fakeipam"}' e ep
	mkdir -p "$T/ipam"
	printf '#!/bin/sh\necho "$CNI_COMMAND $CNI_CONTAINERID" >>"%s/ipam/log"\ncat >/dev/null\n[ "$CNI_COMMAND" = ADD ] && cat "%s/ipam/result.json"\nexit 0\n' \
		"$T" "$T" >"$T/ipam/fakeipam"
	chmod +x "$T/ipam/fakeipam"
	printf '{"cniVersion": "1.0.0", "ips": [{"address": "%s", "gateway": "%s"}]}' "$addr" "$gw" >"$T/ipam/result.json"
	netns_new e ctr
	ep=$(netns_path "$e")
	: >"$T/ipam/log"
	"$run" ADD ex1 "$ep" "$(conf 1.0.0 '' "$fake")" CNI_PATH="$BIN:$T/ipam"
	is_success "ADD with an exec'd IPAM plugin"
	ok_if "... its address is on eth0" sh -c "ip -n '$e' addr show eth0 | grep -q $addr"
	"$run" DEL ex1 "$ep" "$(conf 1.0.0 '' "$fake")" CNI_PATH="$BIN:$T/ipam"
	is "... ADD and DEL reached it" "$(tr '\n' ' ' <"$T/ipam/log")" "ADD ex1 DEL ex1 "
	printf '%s' '{"cniVersion": "1.0.0"}' >"$T/ipam/result.json"
	: >"$T/ipam/log"
	"$run" ADD ex2 "$ep" "$(conf 1.0.0 '' "$fake")" CNI_PATH="$BIN:$T/ipam"
	is_error "an IPAM result without addresses fails the ADD"
	like "... saying so" "$(json_get "$OUT" .msg)" 'missing IP config'
	is "... and releases what IPAM may hold (DEL sent)" "$(tr '\n' ' ' <"$T/ipam/log")" "ADD ex2 DEL ex2 "
	assert_no_links "$e"
	netns_del "$e"
}

# versions_gc_status_tests RUN BIN NETWORK NETNS_PATH IFNAME ADDR: ADD and DEL in every version
# with `st ADDR` (a static /24), then GC releasing a stale host-local ($HL) reservation and
# STATUS, through RUN (the script's wrapper) and BIN in $NODE, with the script's `conf`.
versions_gc_status_tests()
{
	local run=$1 bin=$2 net=$3 path=$4 ifname=$5 addr=$6 v
	for v in 0.1.0 0.2.0 0.3.0 0.3.1 0.4.0 1.0.0 1.1.0; do
		"$run" ADD v "$path" "$(conf "$v" '' "$(st "$addr")")"
		case $v in
		0.1.0 | 0.2.0) ok_jq "$v: ADD, result in the old schema" "$OUT" ".ip4.ip == \"$addr/24\"" ;;
		*) ok_jq "$v: ADD, result" "$OUT" ".ips[0].address == \"$addr/24\" and .interfaces[0].name == \"$ifname\"" ;;
		esac
		"$run" DEL v "$path" "$(conf "$v" '' "$(st "$addr")")"
	done
	"$run" ADD gc "$path" "$(conf 1.1.0 '' "$HL")"
	cni_json "$NODE" "$bin" GC "" "" "" "$(conf 1.1.0 '{"cni.dev/valid-attachments": []}' "$HL")"
	is_success "GC"
	is "... released the stale reservation" "$(ipam_files "$DATA/$net" | wc -l)" 0
	cni_json "$NODE" "$bin" STATUS "" "" "" "$(conf 1.1.0 '' "$HL")"
	is_success "STATUS"
	"$run" DEL gc "$path" "$(conf 1.1.0 '' "$HL")"
}

require ip nsenter jq timeout flock
[ "$(id -u)" == 0 ] || bail_out "integration tests need root"
