#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# make bench-report (root): the performance report, docs/benchmarks.md and its charts
# (docs/bench/*.svg), from one run of every benchmark on this machine, ours against the
# reference (Debian's containernetworking-plugins, /usr/lib/cni), calls alternating:
#
#   sizes        test/bench/sizes.sh             binary sizes
#   plugins      test/bench/run.sh               host-local, static, loopback, portmap, ...
#   bridge       test/bench/bridge.sh            bridge, bridge with ipMasq (+ floor)
#   l2           test/bench/l2.sh                ptp, ptp with ipMasq, macvlan (+ floor)
#   devices      test/bench/devices.sh           host-device (tap, macvtap: no reference)
#   bandwidth    test/bench/bandwidth.sh         bandwidth (TBF, ifb, u32 + mirred)
#   e2e          test/bench/portmap-conflist.sh  bridge + portmap conflist through cnitool
#   concurrency  test/bench/concurrency.sh       20/50/100 parallel ADDs on one network
#   scale        test/bench/scale.sh             ADD/DEL with 0..1000 containers attached
#   pmmany       test/bench/portmap-many.sh      portmap with 1 000 and 65 535 mappings, packet path
#   runtimes     test/bench/runtimes.sh          pod start/stop through containerd and podman
#
# Each phase's output is copied to build/bench/report/ (with its log) as soon as it ends;
# the document is then rendered from there through the template test/bench/plots/report.md.in
# and the gnuplot scripts test/bench/plots/*.gp.  A phase that fails is reported as such in
# the document; the exit status is non-zero only if the document cannot be written.
#
#	test/bench/report.sh            measure everything, then render
#	test/bench/report.sh --render   render again from build/bench/report/ (no root needed)
#
# Environment (defaults give a run of about 10-15 minutes on 2 CPUs):
#   BENCH_N=100            iterations per case of run.sh
#   BENCH_IFACE_N=60       iterations per case of bridge.sh and l2.sh
#   BENCH_E2E_N=30         cnitool ADD/DEL pairs per side
#   BENCH_CONC, BENCH_CONC_REPS, BENCH_SCALE_LEVELS, BENCH_SCALE_N, BENCH_SCALE_JOBS:
#                          see concurrency.sh and scale.sh
#   RT_RUNTIMES, RT_COUNTS, RT_ROUNDS, RT_MIN_SAMPLES: see runtimes.sh
#   PM_COUNTS, PM_REF_COUNTS, PM_REPS, PM_CONN_N: see portmap-many.sh
#   BENCH_REPORT_PHASES="sizes plugins bridge l2 devices bandwidth e2e concurrency scale pmmany
#                        runtimes"
#   BENCH_REPORT_IMPORT=DIR  take the runtimes phase's files (runtimes.tsv, runtimes-env.txt)
#                        from an earlier run of runtimes.sh alone instead of running it (it
#                        takes ~25 minutes and loads the machine for the phases after it)
#   BENCH_REPORT_DOC=docs/benchmarks.md, BENCH_REPORT_CHARTS=docs/bench (for trial runs)

set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$ROOT/test/bench
OUT=$ROOT/build/bench
R=$OUT/report
DOC=${BENCH_REPORT_DOC:-$ROOT/docs/benchmarks.md}
CHARTS=${BENCH_REPORT_CHARTS:-$ROOT/docs/bench}
PLUGIN_N=${BENCH_N:-100}
IFACE_N=${BENCH_IFACE_N:-60}
E2E_N=${BENCH_E2E_N:-30}
PHASES=${BENCH_REPORT_PHASES:-sizes plugins bridge l2 devices bandwidth e2e concurrency scale pmmany runtimes}
TARGET_SPEEDUP=10	# issue 8: at least 10x faster per plugin
TARGET_FLOOR=1.3	# issue 16: every verb within 1.3x its floor
TARGET_OVER_MS=1	# issue 16: bridge ADD and DEL at 1000 attached <= the floor's + 1 ms

die() {
	echo "bench-report: $*" >&2
	exit 1
}

command -v gnuplot >/dev/null || die "gnuplot missing (apt-get install gnuplot-nox)"

# ---------------------------------------------------------------------------------------
# Measuring

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# phase NAME: run one benchmark, keep its log and outputs, note status and duration.
phase() {
	local name=$1 rc=0 t0 secs f
	local -a cmd files

	case $name in
	sizes) cmd=("$HERE/sizes.sh"); files=(sizes.tsv) ;;
	plugins) cmd=(env -u BENCH_CASES BENCH_N="$PLUGIN_N" "$HERE/run.sh")
		files=(results.tsv env.txt floors.tsv) ;;
	bridge) cmd=(env BENCH_N="$IFACE_N" BENCH_CASES="bridge bridge-masq" "$HERE/bridge.sh")
		files=(bridge.tsv) ;;
	l2) cmd=(env -u BENCH_CASES BENCH_N="$IFACE_N" "$HERE/l2.sh"); files=(l2.tsv) ;;
	e2e) cmd=(env BENCH_N="$E2E_N" "$HERE/portmap-conflist.sh"); files=(portmap-conflist.tsv) ;;
	concurrency) cmd=("$HERE/concurrency.sh"); files=(concurrency.tsv) ;;
	scale) cmd=("$HERE/scale.sh"); files=(scale.tsv scale-fill.tsv) ;;
	pmmany) cmd=("$HERE/portmap-many.sh"); files=(portmap-many.tsv) ;;
	devices) cmd=(env BENCH_N="$IFACE_N" "$HERE/devices.sh"); files=(devices.tsv) ;;
	bandwidth) cmd=("$HERE/bandwidth.sh"); files=(bandwidth.tsv) ;;
	runtimes) cmd=("$HERE/runtimes.sh"); files=(runtimes.tsv runtimes-env.txt) ;;
	*) die "unknown phase $name" ;;
	esac
	echo "== $name: ${cmd[*]##*/}  (load $(loadavg))" >&2
	touch "$R/.stamp"
	t0=$EPOCHREALTIME
	"${cmd[@]}" >"$R/$name.log" 2>&1 || rc=$?
	secs=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')
	# Only what this phase wrote: other runs may share build/bench.
	for f in "${files[@]}"; do
		if [[ -f $OUT/$f && $OUT/$f -nt $R/.stamp ]]; then
			cp "$OUT/$f" "$R/$f"
		else
			[[ $rc == 0 ]] && rc=99
		fi
	done
	printf '%s\t%s\t%s\t%s\n' "$name" "$rc" "$secs" "$(loadavg)" >>"$R/phases.tsv"
	if [[ $rc != 0 ]]; then
		echo "   $name failed (status $rc), see $R/$name.log:" >&2
		tail -5 "$R/$name.log" | sed 's/^/   | /' >&2
	fi
	return 0
}

if [[ ${1:-} != --render ]]; then
	[[ $(id -u) == 0 ]] || die "needs root (network namespaces); --render only renders"
	rm -rf -- "$R"
	mkdir -p "$R"
	: >"$R/phases.tsv"
	# One set of our binaries for the whole run: a snapshot of bin/, so a rebuild while the
	# report runs (it takes minutes) cannot mix versions or catch a half-written file.
	if [[ -z ${BENCH_OURS_DIR:-} ]]; then
		mkdir -p "$R/bin"
		cp -p "$ROOT"/bin/* "$R/bin/" || die "no plugins in bin/: run make first"
		export BENCH_OURS_DIR=$R/bin
	fi
	{
		echo "started	$(date -u +%Y-%m-%dT%H:%M:%SZ)"
		echo "load_start	$(loadavg)"
		echo "settings	BENCH_N=$PLUGIN_N BENCH_IFACE_N=$IFACE_N BENCH_E2E_N=$E2E_N" \
			"BENCH_CONC=\"${BENCH_CONC:-20 50 100}\" BENCH_CONC_REPS=${BENCH_CONC_REPS:-3}" \
			"BENCH_SCALE_LEVELS=\"${BENCH_SCALE_LEVELS:-0 100 250 500 1000}\"" \
			"BENCH_SCALE_N=${BENCH_SCALE_N:-20}"
		echo "phases	$PHASES"
	} >"$R/run.txt"
	t_all=$EPOCHREALTIME
	for p in $PHASES; do
		if [[ $p == runtimes && -n ${BENCH_REPORT_IMPORT:-} ]]; then
			cp "$BENCH_REPORT_IMPORT/runtimes.tsv" "$BENCH_REPORT_IMPORT/runtimes-env.txt" "$R/" ||
				die "BENCH_REPORT_IMPORT: no runtimes.tsv/runtimes-env.txt in $BENCH_REPORT_IMPORT"
			printf 'runtimes\t0\timported\t-\n' >>"$R/phases.tsv"
			continue
		fi
		phase "$p"
	done
	{
		echo "load_end	$(loadavg)"
		echo "duration	$(awk -v a="$t_all" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')"
	} >>"$R/run.txt"
fi
[[ -d $R ]] || die "nothing measured yet ($R missing): run without --render first"

# ---------------------------------------------------------------------------------------
# Rendering: every section is a file $R/sec-<name>.md; the template's @NAME@ lines are
# replaced by them.

exec 3>&1
S=$R/sections
rm -rf -- "$S"
mkdir -p "$S" "$CHARTS"
has() { [[ -s $R/$1 ]]; }
runval() { awk -F'\t' -v k="$1" '$1 == k { print $2 }' "$R/run.txt"; }
phase_status() { awk -F'\t' -v k="$1" '$1 == k { print $2 }' "$R/phases.tsv"; }
missing() { # phase: the line a section shows when its phase did not run or failed
	local st

	st=$(phase_status "$1")
	if [[ -z $st ]]; then
		echo "*Not measured in this run (phase \`$1\` not selected).*"
	else
		echo "*Not measured: the \`$1\` phase failed (status $st); its log is" \
			"\`build/bench/report/$1.log\`.*"
	fi
}
# The no-op process: run.sh's floor line ("... costs 559 us / 656 kB static, ...").
NOP_US=$(sed -n 's/^floor: .* costs \([0-9]*\) us \/ \([0-9]*\) kB static.*/\1/p' "$R/env.txt" 2>/dev/null || true)
NOP_DYN_US=$(sed -n 's/^floor: .* static, \([0-9]*\) us \/ \([0-9]*\) kB dynamic.*/\1/p' "$R/env.txt" 2>/dev/null || true)

# --- machine --------------------------------------------------------------------------
{
	echo '```'
	if has env.txt; then
		grep -v -e '^state:' -e '^settings:' -e '^floor:' -e '^load:' "$R/env.txt" |
			sed -e "s|$R/bin (|bin/, copied when the run started (|" -e "s|$ROOT/||g"
	else
		echo "host:     $(uname -n), $(nproc) CPU, $(awk '/MemTotal/ {printf "%d MiB", $2/1024}' /proc/meminfo)"
		echo "kernel:   $(uname -r)"
	fi
	echo "iptables: $(iptables --version 2>/dev/null || echo missing) (the reference's portmap and ipMasq)"
	echo "nft:      $(nft --version 2>/dev/null || echo missing)"
	echo "libcni:   $(dpkg-query -W -f '${Package} ${Version}' golang-github-appc-cni-dev 2>/dev/null ||
		echo unknown) (build/cnitool, end to end)"
	echo "load:     $(runval load_start) at the start, $(runval load_end) at the end (1/5/15 min)"
	echo "run:      $(runval started), $(runval duration) s; $(runval settings)"
	echo '```'
	# The concurrency and runtimes phases load the machine themselves (100 jobs at once), and
	# the 1-minute load average takes minutes to decay: only the start says whether other jobs
	# were running.
	awk -F'\t' -v ls="$(runval load_start)" '{ split($4, l, " "); if (l[1] + 0 > m) m = l[1] + 0 }
		END { split(ls, s, " ")
		if (s[1] + 0 > cpus + 0) printf "\nThe machine was busy when this run started (load average %s on %s CPUs, other jobs running): absolute times are inflated and noisy; the ratios hold better because the implementations alternate call by call.\n", s[1], cpus
		else if (m > cpus + 0) printf "\nThe machine was quiet when this run started (load average %s on %s CPUs). The 1-minute load average at a phase'"'"'s end reached %s after the concurrency phase, whose 100 parallel calls load the machine themselves; it decays over minutes after they end.\n", s[1], cpus, m }' \
		cpus="$(nproc)" "$R/phases.tsv"
} >"$S/env.md"

# --- per plugin and verb ------------------------------------------------------------------
# plugins.tsv: plugin setup verb n ours_us ref_us floor_us floor_kind ours_kb ref_kb
#              ours_err ref_err tag (a short name of plugin and setup)
PT=$R/plugins.tsv
: >"$PT"
if has results.tsv; then
	awk -F'\t' -v OFS='\t' -v nop="${NOP_US:-0}" 'NR > 1 {
		setup = "-"
		if (split($1, c, "@") == 2)
			setup = (c[1] == "host-local" ? c[2] " other reservations" : \
				 c[1] == "portmap" ? c[2] " other mappings (ours only)" : c[2] " others")
		print $2, setup, $3, $4, $5, $7, nop, "process", $10, $11, $15, $16, $1
	}' "$R/results.tsv" >>"$PT"
fi
# bandwidth.sh keeps one row per run (a fresh veth each): reduce to brbench's rows.
if has bandwidth.tsv; then
	awk -F'\t' -v OFS='\t' '{ k = $2 SUBSEP $3; if (!(k in n)) o[++m] = k
		n[k]++; t[k, n[k]] = $5; r[k, n[k]] = $7; e[k] += $9 }
	function srt(k, col, a,    i, j, x) {
		for (i = 1; i <= n[k]; i++) a[i] = (col == 5 ? t[k, i] : r[k, i])
		for (i = 2; i <= n[k]; i++) { x = a[i]; for (j = i - 1; j > 0 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
	}
	END { for (i = 1; i <= m; i++) { k = o[i]; split(k, f, SUBSEP); srt(k, 5, a); srt(k, 7, b)
		print "bandwidth", f[1], f[2], n[k], a[int((n[k] + 1) / 2)], a[int(n[k] * 0.9 + 0.999)], \
		      b[int((n[k] + 1) / 2)], b[n[k]], e[k] } }' "$R/bandwidth.tsv" >"$R/bandwidth-agg.tsv"
fi
for f in bridge.tsv l2.tsv devices.tsv bandwidth-agg.tsv; do
	has "$f" || continue
	awk -F'\t' -v OFS='\t' '
	NF == 9 && $1 !~ /@/ {
		c = $1; base = c; sub(/-masq$/, "", base)
		impl = $3 ~ /^ours/ ? "ours" : $3 ~ /^ref/ ? "ref" : $3 ~ /^floor/ ? "floor" : ""
		if (impl == "") next
		k = c SUBSEP $2
		if (!(k in seen)) { seen[k]; order[++m] = k }
		med[k, impl] = $5; kb[k, impl] = $7; err[k, impl] = $9; n[k] = $4
		if (impl == "floor") fl[c, $2] = $5
	}
	END {
		for (i = 1; i <= m; i++) {
			split(order[i], f, SUBSEP); c = f[1]; base = c; sub(/-masq$/, "", base)
			setup = c ~ /-masq$/ ? "ipMasq" : "-"
			# An ipMasq row without a floor of its own (raw files of earlier runs):
			# the one without masquerading, a lower bound.
			fc = (c SUBSEP f[2]) in fl ? c : base
			kind = fc != c ? "kernel, no masquerading" : "kernel"
			k = order[i]
			print base, setup, f[2], n[k], med[k, "ours"], med[k, "ref"], \
			      (fc SUBSEP f[2]) in fl ? fl[fc, f[2]] : "", kind, kb[k, "ours"], \
			      kb[k, "ref"], err[k, "ours"] + 0, err[k, "ref"] + 0, \
			      (c ~ /-masq$/ ? base "+masq" : c)
		}
	}' "$R/$f" >>"$PT"
done

# Rows with a floor of their own (run.sh's floors.tsv: host-local's store work, loopback's,
# sbr's and portmap's kernel work) take it, and their cnic / floor (field 14) from that run,
# where ours alternated with the floor: in the run against the reference, ours alternates
# with a Go process of 10-40 ms and comes out slower than next to the floor, which would
# inflate the ratio.  (floor-hl.tsv: the host-local-only file of earlier runs.)
for f in floors.tsv floor-hl.tsv; do
	has "$f" || continue
	awk -F'\t' -v OFS='\t' 'FNR == NR { if (FNR > 1) { fl[$1, $2] = $4; ra[$1, $2] = $6 / $4
			kd[$1, $2] = NF >= 8 ? $8 : "store" }; next }
		($13, $3) in fl { $7 = fl[$13, $3]; $8 = kd[$13, $3]; $14 = sprintf("%.3f", ra[$13, $3]) } { print }' \
		"$R/$f" "$PT" >"$PT.new"
	mv -f "$PT.new" "$PT"
	break
done

REF_BIN_DIR=$(sed -n 's/^ref: *\([^ ]*\) .*/\1/p' "$R/env.txt" 2>/dev/null || true)

# The rows shown and judged: both sides measured, the reference not failing every call.
awk -F'\t' -v OFS='\t' '$5 != "" && $6 != "" && !($12 >= $4 && $4 > 0)' "$PT" >"$R/plugins-ok.tsv"
awk -F'\t' -v OFS='\t' '$12 >= $4 && $4 > 0' "$PT" >"$R/plugins-excluded.tsv"

{
	if [[ ! -s $R/plugins-ok.tsv ]]; then
		missing plugins
	else
		echo "| plugin | setup | verb | cnic ms | reference ms | speedup | floor ms | cnic / floor | cnic RSS MB | reference RSS MB | RSS ratio | ≥ ${TARGET_SPEEDUP}x |"
		echo "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"
		awk -F'\t' -v t="$TARGET_SPEEDUP" '{
			sp = $5 > 0 ? $6 / $5 : 0
			fl = $7 != "" && $7 > 0 ? sprintf("%.2f", $7 / 1000) : "–"
			of = $14 != "" ? sprintf("%.1f", $14) : $7 != "" && $7 > 0 ? sprintf("%.1f", $5 / $7) : "–"
			if (sp >= t)
				v = "met"
			else if ($7 != "" && $7 > 0 && $6 / $7 < t)
				v = sprintf("missed (floor-bound: at most %.1fx here)", $6 / $7)
			else
				v = "**missed**"
			if ($11 + $12 > 0)
				v = v sprintf(" (failed calls: cnic %d, reference %d)", $11, $12)
			mk = fl == "–" ? "" : $8 == "process" ? "¹" : $8 == "kernel" ? "²" : $8 == "store" ? "⁴" : "³"
			printf "| %s | %s | %s | %.2f | %.2f | %.1fx | %s%s | %s | %.1f | %.1f | %.2f | %s |\n", \
			       $1, ($2 == "-" ? "" : $2), $3, $5 / 1000, $6 / 1000, sp, fl, mk, of, \
			       $9 / 1024, $10 / 1024, ($10 > 0 ? $9 / $10 : 0), v
		}' "$R/plugins-ok.tsv"
		echo
		echo "Times are medians of $(cut -f4 "$R/plugins-ok.tsv" | sort -nu | paste -sd/) calls" \
			"per side and row; RSS is the median peak resident set (\`ru_maxrss\`), MB = 2^20 bytes."
		# Rows whose floor is only a lower bound (raw files of earlier runs): the no-op for
		# anything but static, an ipMasq row's floor without masquerading.
		nop_lb=$(awk -F'\t' '$8 == "process" && $1 != "static" {
			r = $1 ($2 == "-" ? "" : " with " $2); sub(/ \(ours only\)$/, "", r)
			if (!(r in seen)) { seen[r]; printf "%s%s", (n++ ? ", " : ""), r } }' "$R/plugins-ok.tsv")
		nop_once="; for $nop_lb it is the no-op measured once at the start of \`run.sh\`, not"
		nop_once+=" alternating, so on a busy machine it can come out above a plugin's own time"
		masq_lb=$(awk -F'\t' '$8 == "kernel, no masquerading" { n++ } END { print n + 0 }' "$R/plugins-ok.tsv")
		echo "Floor: ¹ starting a static no-op process (\`test/bench/nop.c\`): for static, which" \
			"does no kernel work, that is its whole floor${nop_lb:+; for $nop_lb only a lower bound};" \
			"² a minimal program doing the plugin's kernel operations by raw rtnetlink or" \
			"nfnetlink (\`floor-bridge.c\`, \`floor-linkdel.c\`, \`floor-bandwidth.c\`," \
			"\`floor-loopback.c\`, \`floor-sbr.c\`, \`floor-portmap.c\`; with ipMasq also its" \
			"nftables work, \`floormasq.h\`; portmap's with 1000 other mappings over as many" \
			"attachments in its own table), started like a plugin" \
			"(loopback's, sbr's and portmap's measured alternating with our plugin, as ⁴);"
		if [[ $masq_lb != 0 ]]; then
			echo "³ the same without the masquerading rules (a lower bound);"
		fi
		echo "For CHECK, the floor" \
			"programs ask the kernel the plugin's questions (links, addresses, routes) and nothing else;" \
			"⁴ host-local's file work alone (\`floor-host-local.c\`: the store's lock, the reservation" \
			"written or read back, and for DEL every reservation's owner read, which the on-disk format" \
			"forces), measured alternating with our plugin over a store with as many reservations;" \
			"their cnic / floor is from that run (next to the Go reference, ours comes out slower)." \
			"Floor ¹ is measured alternating with our plugin for static${nop_lb:+$nop_once}."
		if [[ -s $R/plugins-excluded.tsv ]]; then
			echo
			while IFS=$'\t' read -r p s v _; do
				# The reference's error JSON is indented: its "msg" is a few lines on.
				why=$(grep -A6 -m1 -F "measure: $p: $v $REF_BIN_DIR/$p" "$R/plugins.log" \
					2>/dev/null | grep -o '"msg": *"[^"]*"' | head -1 | sed 's/^"msg": *//' || true)
				echo "Not shown: $p${s/#-/} $v — the reference fails every call on this machine${why:+ ($why)}, so there is nothing to compare."
			done <"$R/plugins-excluded.tsv"
		fi
	fi
} >"$S/plugins.md"

# Chart data: one row per plugin/setup/verb (log scale, ms); RSS: one row per plugin/setup.
awk -F'\t' -v OFS='\t' '{
	label = $13 " " $3
	printf "\"%s\"\t%.3f\t%.3f\t%s\n", label, $5 / 1000, $6 / 1000, \
	       $7 != "" ? sprintf("%.3f", $7 / 1000) : "NaN"
}' "$R/plugins-ok.tsv" >"$R/chart-time.dat"
awk -F'\t' -v OFS='\t' '$3 == "ADD" {
	label = $13
	printf "\"%s\"\t%.2f\t%.2f\n", label, $9 / 1024, $10 / 1024
}' "$R/plugins-ok.tsv" >"$R/chart-rss.dat"

# --- scaling ------------------------------------------------------------------------------
{
	if ! has scale.tsv; then
		missing scale
	else
		echo "| containers attached | cnic ADD ms (bridge + portmap) | reference ADD ms | floor ADD ms | cnic DEL ms | reference DEL ms | floor DEL ms | ADD speedup | DEL speedup |"
		echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
		awk -F'\t' 'NR > 1 {
			v[$1, $2, $3] = $5; e[$1] += $9
			if (!($1 in seen)) { seen[$1]; l[++m] = $1 }
		}
		END {
			for (i = 1; i <= m; i++) {
				x = l[i]
				printf "| %s | %.2f (%.2f + %.2f) | %.2f | %.2f | %.2f | %.2f | %.2f | %.1fx | %.1fx |\n", \
				       x, v[x, "ADD", "ours"] / 1000, v[x, "ADD", "ours-bridge"] / 1000, \
				       v[x, "ADD", "ours-portmap"] / 1000, v[x, "ADD", "ref"] / 1000, \
				       v[x, "ADD", "floor"] / 1000, v[x, "DEL", "ours"] / 1000, \
				       v[x, "DEL", "ref"] / 1000, v[x, "DEL", "floor"] / 1000, \
				       v[x, "ADD", "ref"] / v[x, "ADD", "ours"], \
				       v[x, "DEL", "ref"] / v[x, "DEL", "ours"]
			}
			for (i = 1; i <= m; i++)
				if (e[l[i]] > 0)
					printf "\n%d call(s) failed at %s attached (see build/bench/report/scale.log).\n", e[l[i]], l[i]
		}' "$R/scale.tsv"
		awk -F'\t' 'NR > 1 && $4 > 0 {
			printf "\nFilling up to %s: %s filler attachment(s) of %s failed after 3 tries each.\n", $1, $4, $2
		}' "$R/scale-fill.tsv"
		echo
		awk -F'\t' -v t="$TARGET_OVER_MS" 'NR > 1 {
			v[$1, $2, $3] = $5; r[$1, $2, $3] = $7
			if (!($1 in seen)) { seen[$1]; l[++m] = $1 }
		}
		END {
			lo = l[1]; hi = l[m]
			a = v[hi, "ADD", "ours"] / v[lo, "ADD", "ours"]
			d = v[hi, "DEL", "ours"] / v[lo, "DEL", "ours"]
			# The target compares like with like: our bridge against the floor, which
			# does the bridge'"'"'s kernel work (portmap has no kernel floor here), run
			# on our node among our fillers ("floor-ours") when measured.
			fi = ((lo, "ADD", "floor-ours") in v) ? "floor-ours" : "floor"
			if (fi == "floor-ours") {
				printf "The floor run on cnic'"'"'s node, on its bridge among its fillers (hairpin ports, port mappings; its store holding copies of cnic'"'"'s reservations), by attached containers, ADD / DEL ms:"
				for (i = 1; i <= m; i++)
					printf "%s %s: %.2f / %.2f", (i == 1 ? "" : ";"), l[i], \
					       v[l[i], "ADD", fi] / 1000, v[l[i], "DEL", fi] / 1000
				printf ". The floor column above has a node of its own with bare fillers.\n\n"
			}
			printf "Our bridge against the floor%s, by attached containers (ms over it, ADD / DEL):", \
			       (fi == "floor-ours" ? " on its node" : "")
			for (i = 1; i <= m; i++)
				printf "%s %s: %+.2f / %+.2f", (i == 1 ? "" : ";"), l[i], \
				       (v[l[i], "ADD", "ours-bridge"] - v[l[i], "ADD", fi]) / 1000, \
				       (v[l[i], "DEL", "ours-bridge"] - v[l[i], "DEL", fi]) / 1000
			xa = (v[hi, "ADD", "ours-bridge"] - v[hi, "ADD", fi]) / 1000
			xd = (v[hi, "DEL", "ours-bridge"] - v[hi, "DEL", fi]) / 1000
			printf ". Target (issue 16): with %s attached, ADD and DEL each at most %d ms over the floor: ADD %s, DEL %s.\n\n", \
			       hi, t, (xa <= t ? "met" : "**missed**"), (xd <= t ? "met" : "**missed**")
			printf "With %s attached instead of %s, the whole attachment takes %.2fx as long to ADD and %.2fx to DEL with cnic;", hi, lo, a, d
			printf " the reference %.2fx and %.2fx; the floor %.2fx and %.2fx.\n", \
			       v[hi, "ADD", "ref"] / v[lo, "ADD", "ref"], v[hi, "DEL", "ref"] / v[lo, "DEL", "ref"], \
			       v[hi, "ADD", "floor"] / v[lo, "ADD", "floor"], v[hi, "DEL", "floor"] / v[lo, "DEL", "floor"]
			# Where it comes from: each plugin of the attachment on its own.
			printf "\nBy plugin, from %s to %s attached (median ms, peak RSS MB):", lo, hi
			for (s = 1; s <= 2; s++) {
				impl = s == 1 ? "ours" : "ref"
				printf "%s", s == 1 ? "\n\n- cnic:" : "\n- the reference:"
				sep = " "
				for (p = 1; p <= 2; p++) for (w = 1; w <= 2; w++) {
					pl = p == 1 ? "bridge" : "portmap"; vb = w == 1 ? "ADD" : "DEL"
					k = impl "-" pl
					printf "%s%s %s %.2f → %.2f (%.1f → %.1f MB)", sep, pl, vb, \
					       v[lo, vb, k] / 1000, v[hi, vb, k] / 1000, \
					       r[lo, vb, k] / 1024, r[hi, vb, k] / 1024
					sep = "; "
				}
				printf "."
			}
			printf "\n"
		}' "$R/scale.tsv"
	fi
} >"$S/scale.md"
if has scale.tsv; then
	awk -F'\t' 'NR > 1 {
		v[$1, $2, $3] = $5
		if (!($1 in seen)) { seen[$1]; l[++m] = $1 }
	}
	END {
		for (i = 1; i <= m; i++) {
			x = l[i]
			printf "%s", x
			split("ADD,ours;ADD,ref;ADD,floor;DEL,ours;DEL,ref;DEL,floor", c, ";")
			for (j = 1; j <= 6; j++) {
				split(c[j], vv, ",")
				printf "\t%.3f", v[x, vv[1], vv[2]] / 1000
			}
			printf "\n"
		}
	}' "$R/scale.tsv" >"$R/chart-scale.dat"
fi

# --- concurrency --------------------------------------------------------------------------
{
	if ! has concurrency.tsv; then
		missing concurrency
	else
		"$HERE/concurrency-summary.sh" "$R/concurrency.tsv" >"$R/concurrency-summary.tsv"
		echo "| parallel ADDs | cnic ADD total s | reference ADD total s | speedup | cnic failures | reference failures | cnic DEL total s | reference DEL total s | leaks (cnic / reference) |"
		echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
		awk -F'\t' 'NR > 1 {
			if (!($2 in seen)) { seen[$2]; ks[++m] = $2 }
			a[$2, $1] = $4; af[$2, $1] = $5; d[$2, $1] = $6; df[$2, $1] = $7
			lk[$2, $1] = $8; r = $3
		}
		END {
			for (i = 1; i <= m; i++) {
				k = ks[i]
				printf "| %s | %.2f | %.2f | %.1fx | %d | %d | %.2f | %.2f | %d / %d |\n", k, \
				       a[k, "ours"] / 1000, a[k, "ref"] / 1000, \
				       (a[k, "ours"] > 0 ? a[k, "ref"] / a[k, "ours"] : 0), \
				       af[k, "ours"] + df[k, "ours"], af[k, "ref"] + df[k, "ref"], \
				       d[k, "ours"] / 1000, d[k, "ref"] / 1000, lk[k, "ours"], lk[k, "ref"]
			}
			printf "\nMedian total over %d rounds per K and side; failures (ADD and DEL, including addresses handed out twice) and leaks are summed over the rounds.\n", r
		}' "$R/concurrency-summary.tsv"
		awk -F'\t' 'NR > 1 {
			if (!($2 in seen)) { seen[$2]; ks[++m] = $2 }
			a[$2, $1] = $4; d[$2, $1] = $6
		}
		END {
			for (i = 1; i <= m; i++) {
				k = ks[i]
				printf "%s\t%.3f\t%.3f\t%.3f\t%.3f\n", k, a[k, "ours"] / 1000, \
				       a[k, "ref"] / 1000, d[k, "ours"] / 1000, d[k, "ref"] / 1000
			}
		}' "$R/concurrency-summary.tsv" >"$R/chart-concurrency.dat"
	fi
} >"$S/concurrency.md"

# --- end to end through cnitool -------------------------------------------------------------
{
	if ! has portmap-conflist.tsv; then
		missing e2e
	else
		echo "| verb | cnic ms | reference ms | speedup |"
		echo "|---|---:|---:|---:|"
		awk -F'\t' 'NR > 1 {
			printf "| %s | %.2f | %.2f | %.1fx |\n", toupper($1), $3 / 1000, $4 / 1000, $5
		}' "$R/portmap-conflist.tsv"
		echo
		echo "Median of $(awk -F'\t' 'NR == 2 { print $2 }' "$R/portmap-conflist.tsv") calls per side" \
			"and verb, alternating; the time of the whole \`cnitool add\`/\`del\` process" \
			"(libcni, Debian's golang-github-appc-cni-dev, built into \`build/cnitool\`)," \
			"so the Go start-up and libcni's own work are included on both sides."
	fi
} >"$S/e2e.md"

# --- portmap with many mappings ---------------------------------------------------------------
{
	if ! has portmap-many.tsv; then
		missing pmmany
	else
		echo "| mappings | cnic ADD ms | cnic CHECK ms | cnic DEL ms | reference ADD ms | reference CHECK ms | reference DEL ms | new connection, cnic µs (median / p90) | new connection, reference µs (median / p90) |"
		echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
		# A call the harness killed (its timeout, PM_TIMEOUT) shows as "> N s".
		awk -F'\t' 'function ms(i, c, vb) { if (!((i, c, vb) in v)) return "–"
			if (e[i, c, vb] == n[i, c, vb] && v[i, c, vb] >= 50e6) return sprintf("> %.0f s (killed, %d of %d)", v[i, c, vb] / 1e6, e[i, c, vb], n[i, c, vb])
			return sprintf("%.1f%s", v[i, c, vb] / 1000, e[i, c, vb] > 0 ? " (" e[i, c, vb] " failed)" : "") }
		function us(i, c) { return (i, c, "connect") in v ? sprintf("%.0f / %.0f", v[i, c, "connect"], p[i, c, "connect"]) : "–" }
		NR > 1 {
			v[$1, $2, $3] = $5; p[$1, $2, $3] = $6; e[$1, $2, $3] = $7; n[$1, $2, $3] = $4
			if ($1 != "direct" && !($2 in seen)) { seen[$2]; l[++m] = $2 }
		}
		END {
			for (i = 1; i <= m; i++) {
				c = l[i]
				printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", c, ms("ours", c, "ADD"), ms("ours", c, "CHECK"), \
				       ms("ours", c, "DEL"), ms("ref", c, "ADD"), ms("ref", c, "CHECK"), ms("ref", c, "DEL"), us("ours", c), us("ref", c)
			}
			if (("direct", 0, "connect") in v)
				printf "\nThe same connection straight to the container (routed, no mapping, no DNAT): %.0f µs median, %.0f µs p90: the packet path'"'"'s floor.\n", v["direct", 0, "connect"], p["direct", 0, "connect"]
		}' "$R/portmap-many.tsv"
		awk -F'\t' 'NR > 1 && $3 != "connect" { r = $4 } NR > 1 && $3 == "connect" { c = $4 }
			END { printf "\nADD, CHECK and DEL: median of %s rounds (wall time of the plugin process); connections: %s per row, one after another, each a new flow (a SYN through the NAT hook'"'"'s DNAT lookup), timed from `connect()` to its completion (`test/bench/pmconn.c`).\n", r, c }' "$R/portmap-many.tsv"
		ref_fail=$(awk -F'\t' 'NR > 1 && $1 == "ref" && $3 == "CHECK" && $7 > 0' "$R/portmap-many.tsv")
		if [[ -n $ref_fail ]]; then
			echo
			echo "The reference's CHECK fails on this machine (see [per plugin and verb](#per-plugin-and-verb)); its time is that of the failing call."
		fi
	fi
} >"$S/pmmany.md"

# --- pods through real runtimes ---------------------------------------------------------------
{
	if ! has runtimes.tsv; then
		missing runtimes
	else
		echo "| runtime | pods at once | phase | n | cnic median ms | cnic p90 ms | reference median ms | reference p90 ms | speedup | failed pods (cnic / ref) | leaked reservations (cnic / ref) |"
		echo "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"
		awk -F'\t' 'BEGIN { w["start"] = 1; w["stop"] = 2; w["total"] = 3; w["batch"] = 4 }
		NR > 1 { printf "%s\t%06d\t%d\t%s\n", $1, $2, w[$3], $0 }' "$R/runtimes.tsv" | sort |
			cut -f4- | awk -F'\t' 'function ms(x) { return x == "-" ? "-" : sprintf("%.0f", x) }
			{
			ph = $3 == "start" ? "start (RunPodSandbox)" : $3 == "stop" ? "stop (StopPodSandbox + RemovePodSandbox)" : \
			     $3 == "batch" ? "whole batch (wall)" : ($1 == "podman" ? "`podman run --rm -p`" : "start + stop")
			printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |%s\n", $1, $2, ph, $4, ms($5), ms($6), ms($7), ms($8),
				$9 == "-" ? "-" : $9 "x", $3 == "total" ? $10 " / " $11 : "",
				$3 == "total" ? " " $12 " / " $13 " |" : " |"
		}'
		echo
		echo '```'
		cat "$R/runtimes-env.txt" 2>/dev/null
		echo '```'
		if [[ $(awk -F'\t' '$1 == "runtimes" { print $3 }' "$R/phases.tsv") == imported ]]; then
			echo
			echo "*This section comes from a run of \`test/bench/runtimes.sh\` alone on the same" \
				"machine, just before the rest of this page (its settings and load above: the" \
				"batches of 100 pods load the machine themselves), brought in with" \
				"\`BENCH_REPORT_IMPORT\`.*"
		fi
	fi
} >"$S/runtimes.md"

# --- sizes -------------------------------------------------------------------------------------
{
	if ! has sizes.tsv; then
		missing sizes
	else
		echo "| plugin | cnic installed (stripped) MB | cnic with debug info MB | reference MB | ratio |"
		echo "|---|---:|---:|---:|---:|"
		awk -F'\t' 'NR > 1 {
			printf "| %s | %.2f | %.2f | %.2f | %.2f |\n", $1, $3 / 1048576, $2 / 1048576, \
			       $4 / 1048576, $5
			so += $3; ro += $4
		}
		END {
			printf "| **all of the above** | **%.1f** | | **%.1f** | **%.2f** |\n", so / 1048576, \
			       ro / 1048576, so / ro
		}' "$R/sizes.tsv"
		echo
		l=$(awk -F'\t' 'NR == 2 { print $6 " / " $7 }' "$R/sizes.tsv")
		echo "Linkage (cnic / reference): $l. cnic's plugins are linked fully static (libc," \
			"json-c, libnl, libnftnl inside) and \`make install\` strips them; each is" \
			"self-contained, as the reference's Go binaries are."
		awk -F'\t' 'NR > 1 {
			printf "\"%s\"\t%.3f\t%.3f\n", $1, $3 / 1048576, $4 / 1048576
		}' "$R/sizes.tsv" >"$R/chart-sizes.dat"
	fi
} >"$S/sizes.md"

# --- the floor ---------------------------------------------------------------------------
{
	echo "| what | time |"
	echo "|---|---:|"
	# shellcheck disable=SC2016 # the backquotes are Markdown
	[[ -n $NOP_US ]] && printf '| start and reap a static no-op process (`nop.c`) | %.2f ms |\n' \
		"$(awk -v x="$NOP_US" 'BEGIN { print x / 1000 }')"
	[[ -n $NOP_DYN_US ]] && printf '| the same, dynamically linked (libc only) | %.2f ms |\n' \
		"$(awk -v x="$NOP_DYN_US" 'BEGIN { print x / 1000 }')"
	if has bridge.tsv; then
		awk -F'\t' '($1 == "bridge" || $1 == "bridge-masq") && $3 ~ /^floor/ && $2 != "CHECK" {
			printf "| %s %s, kernel operations only (`floor-bridge.c`, started as a plugin) | %.2f ms |\n", $1, $2, $5 / 1000 }' "$R/bridge.tsv"
	fi
	if has l2.tsv; then
		awk -F'\t' '$3 == "floor" && $2 != "CHECK" {
			printf "| %s %s, kernel operations only (`floor-linkdel.c`, started as a plugin) | %.2f ms |\n", $1, $2, $5 / 1000 }
			$1 == "floor-linkdel" {
			printf "| deleting one %s link, in-process, the kernel alone | %.2f ms |\n", $2, $4 / 1000 }' "$R/l2.tsv"
	fi
	echo
	if [[ -s $R/plugins-ok.tsv ]]; then
		awk -F'\t' -v t="$TARGET_SPEEDUP" '$7 != "" && $7 > 0 {
			n++; r = $14 != "" ? $14 : $5 / $7; if (r <= 1.25) c++; if ($6 / $7 < t) fb++
			if (r > worst) { worst = r; wl = $13 " " $3 }
		}
		END {
			printf "Of %d plugin/verb rows with a floor, cnic is within 25%% of it in %d; the furthest is %s at %.1fx its floor. In %d rows the reference itself is less than %dx slower than the floor, so no implementation could be %dx faster than it on this machine.\n", n, c, wl, worst, fb, t, t
		}' "$R/plugins-ok.tsv"
	fi
} >"$S/floor.md"

# --- targets and summary -----------------------------------------------------------------------
{
	if [[ -s $R/plugins-ok.tsv ]]; then
		awk -F'\t' -v t="$TARGET_SPEEDUP" '{
			n++; sp = $6 / $5
			if (sp >= t) met++
			else if ($7 != "" && $7 > 0 && $6 / $7 < t) fb++
			else { miss++; ml = ml sprintf("%s%s %s (%.1fx)", (ml == "" ? "" : ", "), $13, $3, sp) }
			if (min == "" || sp < min) min = sp
			if (sp > max) max = sp
			lg += log(sp)
		}
		END {
			printf "- **Per plugin and verb** (target: at least %dx faster): met in %d of %d rows; %d more are floor-bound (the reference is less than %dx slower than the bare kernel work plus process start-up, so the target cannot be met on this machine by any implementation)", t, met, n, fb, t
			if (miss) printf "; missed without that excuse: %s", ml
			printf ". Speedups range from %.1fx to %.1fx (geometric mean %.1fx).\n", min, max, exp(lg / n)
		}' "$R/plugins-ok.tsv"
		awk -F'\t' '$3 == "ADD" && $10 > 0 { n++; s += log($9 / $10) }
			END { if (n) printf "- **Memory**: cnic peaks at %.0f%% of the reference'"'"'s resident set (geometric mean over ADD rows).\n", 100 * exp(s / n) }' "$R/plugins-ok.tsv"
	else
		echo "- **Per plugin and verb**: not measured in this run."
	fi
	if [[ -s $R/plugins-ok.tsv ]]; then
		awk -F'\t' -v t="$TARGET_FLOOR" '$7 != "" && $7 > 0 {
			n++; r = $14 != "" ? $14 : $5 / $7
			if (r <= t) c++
			else ml = ml sprintf("%s%s %s (%.2fx)", (ml == "" ? "" : ", "), $13, $3, r)
		}
		END {
			printf "- **Against the floor** (target: every verb within %.1fx its floor): %d of %d rows", t, c, n
			if (ml != "") printf "; above it: %s (see [where the time goes](#where-the-time-goes))", ml
			printf ".\n"
		}' "$R/plugins-ok.tsv"
	fi
	if has scale.tsv; then
		awk -F'\t' -v t="$TARGET_OVER_MS" 'NR > 1 {
			v[$1, $2, $3] = $5
			if (!($1 in seen)) { seen[$1]; l[++m] = $1 }
		}
		END {
			lo = l[1]; hi = l[m]
			fi = ((lo, "ADD", "floor-ours") in v) ? "floor-ours" : "floor"
			xa = (v[hi, "ADD", "ours-bridge"] - v[hi, "ADD", fi]) / 1000
			xd = (v[hi, "DEL", "ours-bridge"] - v[hi, "DEL", fi]) / 1000
			printf "- **Scaling** (target: with %s containers attached, bridge ADD and DEL at most %d ms over the floor doing the same kernel work%s): ADD %+.2f ms — %s, DEL %+.2f ms — %s; the floor itself goes from %.1f to %.1f ms (ADD) as the ports grow. With %s attached, a cnic attachment (bridge + portmap) takes %.1f ms to add, the reference'"'"'s %.1f ms.\n", hi, t, (fi == "floor-ours" ? ", on cnic'"'"'s node" : ""), xa, (xa <= t ? "met" : "**missed**"), xd, (xd <= t ? "met" : "**missed**"), v[lo, "ADD", fi] / 1000, v[hi, "ADD", fi] / 1000, hi, v[hi, "ADD", "ours"] / 1000, v[hi, "ADD", "ref"] / 1000
		}' "$R/scale.tsv"
	fi
	if has portmap-many.tsv; then
		awk -F'\t' 'NR > 1 { v[$1, $2, $3] = $5; if ($1 == "ours" && $3 == "ADD") hi = $2 }
			END { if (hi == "") exit
			printf "- **portmap, %s mappings in one attachment**: ADD %.2f s, CHECK %.2f s, DEL %.2f s", hi, v["ours", hi, "ADD"] / 1e6, v["ours", hi, "CHECK"] / 1e6, v["ours", hi, "DEL"] / 1e6
			if (("ours", 1, "connect") in v && ("ours", hi, "connect") in v)
				printf "; a new connection through the mappings takes %.0f µs with 1 mapping, %.0f µs with %s", v["ours", 1, "connect"], v["ours", hi, "connect"], hi
			if (("direct", 0, "connect") in v) printf " (%.0f µs with no mapping at all)", v["direct", 0, "connect"]
			printf ".\n" }' "$R/portmap-many.tsv"
	fi
	if [[ -s $R/concurrency-summary.tsv ]]; then
		awk -F'\t' 'NR > 1 { if ($2 + 0 >= k) k = $2 + 0; a[$2, $1] = $4; f[$1] += $5 + $7; l[$1] += $8 }
		END {
			printf "- **Concurrency**: %d parallel ADDs on one network take %.2f s with cnic, %.2f s with the reference; failures: cnic %d, reference %d; leaks: cnic %d, reference %d.\n", k, a[k, "ours"] / 1000, a[k, "ref"] / 1000, f["ours"], f["ref"], l["ours"], l["ref"]
		}' "$R/concurrency-summary.tsv"
	fi
	if has portmap-conflist.tsv; then
		awk -F'\t' 'NR > 1 { s = s sprintf("%s%s %.1fx", s == "" ? "" : ", ", toupper($1), $5) }
			END { printf "- **End to end** (bridge + portmap conflist through cnitool): %s faster.\n", s }' "$R/portmap-conflist.tsv"
	fi
	if has runtimes.tsv; then
		awk -F'\t' 'function ms(x) { return x == "-" ? "-" : sprintf("%.0f", x) }
			NR > 1 && $3 == "total" { s = s sprintf("%s%s %s at once %s ms vs %s ms%s", s == "" ? "" : "; ", $1, $2, ms($5), ms($7),
				$10 + $11 + $12 + $13 > 0 ? sprintf(" (failed pods %d / %d, leaked reservations %d / %d)", $10, $11, $12, $13) : "") }
			END { if (s != "") printf "- **Pods through real runtimes** (median start + stop of one pod, cnic vs the reference): %s.\n", s }' "$R/runtimes.tsv"
	fi
	if has sizes.tsv; then
		awk -F'\t' 'NR > 1 { so += $3; ro += $4 } END { printf "- **Size**: the installed plugins take %.0f%% of the reference'"'"'s disk space.\n", 100 * so / ro }' "$R/sizes.tsv"
	fi
} >"$S/summary.md"

# The plugin issues' own targets, as their bench scripts judge them.
{
	echo '```'
	if has results.tsv; then
		awk -F'\t' 'NR > 1 && $17 != "-" && $17 != "" && $16 < $4 {
			printf "plugins: %-46s %11s  %s\n", $1 " " $3 " time <= 0.2x and RSS <= 0.5x", $9 "/" $14, $17 }' "$R/results.tsv"
	fi
	for f in bridge l2; do
		[[ -s $R/$f.log ]] || continue
		sed -n '/^# targets/,/^# raw/p' "$R/$f.log" | grep -E 'PASS|MISS|ERR' | sed "s/^/$f: /" || true
	done
	if has portmap-conflist.tsv; then
		awk -F'\t' 'NR > 1 { printf "e2e: %-42s %8s  %s\n", "conflist " toupper($1) " speedup >= 5", $5, $6 }' \
			"$R/portmap-conflist.tsv"
	fi
	echo '```'
} >"$S/targets.md"

# --- phases and how to reproduce ---------------------------------------------------------------
{
	echo "This page came from \`$(runval settings) make bench-report\`"
	echo "(phases: $(runval phases)), as follows:"
	echo
	echo "| phase | script | seconds | status | load at its end |"
	echo "|---|---|---:|---|---|"
	declare -A SCRIPT=([sizes]=sizes.sh [plugins]=run.sh [bridge]=bridge.sh [l2]=l2.sh
		[e2e]=portmap-conflist.sh [concurrency]=concurrency.sh [scale]=scale.sh [runtimes]=runtimes.sh
		[pmmany]=portmap-many.sh [devices]=devices.sh [bandwidth]=bandwidth.sh)
	while IFS=$'\t' read -r p st secs ld; do
		# shellcheck disable=SC2016 # the backquotes are Markdown
		printf '| %s | `test/bench/%s` | %s | %s | %s |\n' "$p" "${SCRIPT[$p]:-?}" "$secs" \
			"$([[ $secs == imported ]] && echo "ok (a separate run)" || { [[ $st == 0 ]] && echo ok; } || echo "failed ($st)")" "$ld"
	done <"$R/phases.tsv"
} >"$S/phases.md"

# --- charts ------------------------------------------------------------------------------------
plot() { # script data output
	if [[ -s $R/$2 ]]; then
		gnuplot -e "data='$R/$2'; out='$CHARTS/$3'; plots='$HERE/plots'" "$HERE/plots/$1" 2>"$R/gnuplot-$1.err" ||
			{ cat "$R/gnuplot-$1.err" >&2; die "gnuplot $1 failed"; }
	fi
}
plot time.gp chart-time.dat time.svg
plot rss.gp chart-rss.dat rss.svg
plot scale.gp chart-scale.dat scale.svg
plot concurrency.gp chart-concurrency.dat concurrency.svg
plot sizes.gp chart-sizes.dat sizes.svg

# --- the document --------------------------------------------------------------------------------
rel=$(realpath --relative-to="$(dirname "$DOC")" "$CHARTS")
awk -v dir="$S" -v charts="$rel" '
/^@[A-Z0-9]+@$/ {
	f = dir "/" tolower(substr($0, 2, length($0) - 2)) ".md"
	while ((getline line <f) > 0) print line
	close(f)
	next
}
{ gsub(/@CHARTS@/, charts); print }' "$HERE/plots/report.md.in" >"$DOC.tmp"
mv -f "$DOC.tmp" "$DOC"
echo "bench-report: wrote ${DOC#"$ROOT"/} and ${CHARTS#"$ROOT"/}/*.svg" >&3
cat "$S/summary.md" >&3
