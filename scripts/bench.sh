#!/usr/bin/env bash
# Runs every benchmark with -benchmem, each beside its anchor in the same
# `go test` run, then the load and balancing-quality runs, and writes the raw
# results to $BENCH_OUT (default bench/out):
#
#   bench.txt            go test -bench output of every package but the pick packages (-p 1: one package at a time)
#   picks.txt            go test -bench output of the pick packages (PICK_PKGS) at -cpu 1,2
#   picks-machine.txt    machine.txt of the run that wrote picks.txt
#   lbsim-sim.json       slow-node simulation on virtual time (bench/lbsim)
#   lbsim-loopback.json  the same scenario over loopback (bench/cmd/lbsim)
#   chash.json           consistent-hash balance and key movement (bench/cmd/chash)
#   load.json            loopback load run, bare and with the interceptor stack (bench/cmd/load)
#   overload.json        open-loop overload run of four protections, and a capacity halving (bench/cmd/overload, ~2 min)
#   clientoverload.json  one of three backends failing 90 %: breakers, throttling, retry budget (bench/cmd/clientoverload, ~1.5 min)
#   relist.json          re-lists after a registry outage, 5,000 processes × 50 services on virtual time (bench/cmd/relist, ~1 s)
#   benchstat.txt        benchstat of every grpckit path against its anchor
#   machine.txt          machine, core topology, Go version, commit
#
# Environment: BENCH (benchmark regexp, default .), BENCH_COUNT (default 6),
# BENCH_TIME (-benchtime, default Go's 1s), BENCH_PKGS (default ./...),
# BENCH_EXTRAS (0 to skip the load and balancing-quality runs), BENCH_OUT.
#
# The pick benchmarks (the balancer packages, PICK_PKGS) run at -cpu 1 and
# -cpu 2 (PICK_CPU): a pick's cost, and its ratio to an anchor, depends on
# whether its atomics bounce between cores, so both are reported.
# `scripts/bench.sh picks` runs only them, into picks.txt and
# picks-machine.txt of BENCH_OUT (default bench/results, beside the rest of
# the committed results), then benchstat of every pair and the report.
#
# `scripts/bench.sh publish` copies the results of the last run to
# bench/results, the committed results docs/PERFORMANCE.md is made from, and
# regenerates the report (go run ./bench/cmd/report -in bench/results -out docs).
set -euo pipefail
cd "$(dirname "$0")/.."

RESULT_FILES=(bench.txt picks.txt machine.txt picks-machine.txt lbsim-sim.json lbsim-loopback.json chash.json load.json overload.json clientoverload.json relist.json benchstat.txt)
if [[ ${1:-} == publish ]]; then
	src=${BENCH_OUT:-bench/out}
	rm -rf bench/results
	mkdir -p bench/results
	for f in "${RESULT_FILES[@]}"; do
		if [[ -f $src/$f ]]; then cp "$src/$f" bench/results/; fi
	done
	exec go run ./bench/cmd/report -in bench/results -out docs
fi

PICKS_ONLY=0
if [[ ${1:-} == picks ]]; then
	PICKS_ONLY=1
	BENCH_OUT=${BENCH_OUT:-bench/results}
fi
BENCH=${BENCH:-.}
BENCH_COUNT=${BENCH_COUNT:-6}
BENCH_TIME=${BENCH_TIME:-}
BENCH_PKGS=${BENCH_PKGS:-./...}
BENCH_EXTRAS=${BENCH_EXTRAS:-1}
OUT=${BENCH_OUT:-bench/out}
CACHE=${GRPCKIT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/grpckit}
BENCHSTAT=${BENCHSTAT:-$CACHE/bin/benchstat}
PICK_PKGS=${PICK_PKGS:-./balancer/wrr ./balancer/p2c ./balancer/consistenthash ./balancer/outlier ./balancer/zoneaware}
PICK_CPU=${PICK_CPU:-1,2}

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
failed=()

# machine writes the machine, Go version and commit, and the core topology:
# whether two processors share a core (SMT) or a socket decides how fast an
# atomic's cache line moves between them, so pick ratios depend on it.
machine() {
	echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "go: $(go version)"
	echo "os: $(uname -srm)"
	echo "cpu: $(grep -m1 '^model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//')"
	echo "cores: $(nproc)"
	if command -v lscpu >/dev/null; then
		lscpu | awk -F: '
			function v(s) { sub(/^ +/, "", s); return s }
			/^Model name/ {print "model name: " v($2)}
			/^Thread\(s\) per core/ {print "threads per core: " v($2)}
			/^Core\(s\) per socket/ {print "cores per socket: " v($2)}
			/^Socket\(s\)/ {print "sockets: " v($2)}
			/^Hypervisor vendor/ {print "hypervisor: " v($2)}'
	fi
	echo "memory: $(awk '/^MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo 2>/dev/null)"
	echo "commit: $(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)')"
}

# machine.txt describes the whole run, picks-machine.txt the run of the pick
# benchmarks: the same run, or a later `scripts/bench.sh picks`.
if ((!PICKS_ONLY)); then
	{
		machine
		echo "bench: -bench '$BENCH'${BENCH_TIME:+ -benchtime $BENCH_TIME} -benchmem, the whole suite $BENCH_COUNT times with -count 1 (anchors and grpckit alternate), one package at a time"
	} >"$OUT/machine.txt"
fi
{
	machine
	echo "bench: $PICK_PKGS at -cpu $PICK_CPU, -bench '$BENCH'${BENCH_TIME:+ -benchtime $BENCH_TIME} -benchmem, $BENCH_COUNT passes with -count 1 (anchors and grpckit alternate)"
} >"$OUT/picks-machine.txt"

# The suite runs BENCH_COUNT times with -count 1 rather than once with
# -count N: go test repeats a benchmark N times before moving on to the
# next, so an anchor and grpckit's path would be measured minutes apart on a
# machine whose other load changes. Repeating the suite alternates them, and
# the median takes one value from each pass. -p 1: packages one after
# another, so no benchmark shares the cores with another package's.
: >"$OUT/picks.txt"
if ((!PICKS_ONLY)); then
	: >"$OUT/bench.txt"
	# Every package of BENCH_PKGS but the pick packages, which run below.
	# shellcheck disable=SC2086
	pick_list=$(go list $PICK_PKGS)
	# shellcheck disable=SC2086
	main_pkgs=$(go list $BENCH_PKGS | grep -vxF "$pick_list" || true)
fi
for i in $(seq "$BENCH_COUNT"); do
	if ((!PICKS_ONLY)) && [[ -n $main_pkgs ]]; then
		echo "== pass $i of $BENCH_COUNT: go test -bench '$BENCH' $BENCH_PKGS, but the pick packages" >&2
		# shellcheck disable=SC2086
		go test -p 1 -run '^$' -bench "$BENCH" -benchmem -count 1 ${BENCH_TIME:+-benchtime "$BENCH_TIME"} \
			-timeout 1h $main_pkgs | tee -a "$OUT/bench.txt" || failed+=("go test -bench, pass $i")
	fi
	echo "== pass $i of $BENCH_COUNT: go test -cpu $PICK_CPU -bench '$BENCH' $PICK_PKGS" >&2
	# shellcheck disable=SC2086
	go test -p 1 -run '^$' -bench "$BENCH" -benchmem -count 1 -cpu "$PICK_CPU" ${BENCH_TIME:+-benchtime "$BENCH_TIME"} \
		-timeout 1h $PICK_PKGS | tee -a "$OUT/picks.txt" || failed+=("go test -cpu $PICK_CPU -bench, pass $i")
done

if ((!PICKS_ONLY)) && [[ $BENCH_EXTRAS != 0 ]]; then
	echo "== slow-node simulation" >&2
	go test -count 1 -run '^TestSimulation$' ./bench/lbsim -lbsim.out="$OUT/lbsim-sim.json" || failed+=("lbsim simulation")
	echo "== slow-node run over loopback" >&2
	go run ./bench/cmd/lbsim -out "$OUT/lbsim-loopback.json" || failed+=("lbsim loopback")
	echo "== consistent-hash balance and movement" >&2
	go run ./bench/cmd/chash -out "$OUT/chash.json" || failed+=("chash")
	echo "== load run over loopback" >&2
	go run ./bench/cmd/load -out "$OUT/load.json" || failed+=("load")
	echo "== overload run over loopback (about 2 minutes)" >&2
	timeout 600 go run ./bench/cmd/overload -out "$OUT/overload.json" || failed+=("overload")
	echo "== client overload run over loopback (about 1.5 minutes)" >&2
	timeout 300 go run ./bench/cmd/clientoverload -out "$OUT/clientoverload.json" || failed+=("clientoverload")
	echo "== re-lists after a registry outage, on virtual time" >&2
	go run ./bench/cmd/relist -out "$OUT/relist.json" || failed+=("relist")
fi

echo "== benchstat, each grpckit path against its anchor" >&2
pairs=$OUT/pairs
if ((PICKS_ONLY)); then
	pairs=$(mktemp -d)
	trap 'rm -rf "$pairs"' EXIT
fi
go run ./bench/cmd/report -in "$OUT" -pairs "$pairs" || failed+=("report -pairs")
if [[ -x $BENCHSTAT ]]; then
	"$BENCHSTAT" anchor="$pairs/anchor.txt" grpckit="$pairs/grpckit.txt" >"$OUT/benchstat.txt" || failed+=("benchstat")
else
	echo "bench.sh: no benchstat at $BENCHSTAT (make tools); skipping the comparison" >&2
fi

if ((${#failed[@]})); then
	echo "bench.sh: failed: ${failed[*]}" >&2
	exit 1
fi
if ((PICKS_ONLY)); then
	go run ./bench/cmd/report -in "$OUT" -out docs
	echo "bench.sh: pick results in $OUT, report in docs" >&2
	exit 0
fi
echo "bench.sh: results in $OUT; publish with: scripts/bench.sh publish" >&2
