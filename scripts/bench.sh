#!/usr/bin/env bash
# Runs every benchmark with -benchmem, each beside its anchor in the same
# `go test` run, then the load and balancing-quality runs, and writes the raw
# results to $BENCH_OUT (default bench/out):
#
#   bench.txt            go test -bench output of every package (-p 1: one package at a time)
#   lbsim-sim.json       slow-node simulation on virtual time (bench/lbsim)
#   lbsim-loopback.json  the same scenario over loopback (bench/cmd/lbsim)
#   chash.json           consistent-hash balance and key movement (bench/cmd/chash)
#   load.json            loopback load run, bare and with the interceptor stack (bench/cmd/load)
#   benchstat.txt        benchstat of every grpckit path against its anchor
#   machine.txt          machine, Go version, commit
#
# Environment: BENCH (benchmark regexp, default .), BENCH_COUNT (default 6),
# BENCH_TIME (-benchtime, default Go's 1s), BENCH_PKGS (default ./...),
# BENCH_EXTRAS (0 to skip the load and balancing-quality runs), BENCH_OUT.
#
# `scripts/bench.sh publish` copies the results of the last run to
# bench/results, the committed results docs/PERFORMANCE.md is made from, and
# regenerates the report (go run ./bench/cmd/report -in bench/results -out docs).
set -euo pipefail
cd "$(dirname "$0")/.."

RESULT_FILES=(bench.txt machine.txt lbsim-sim.json lbsim-loopback.json chash.json load.json benchstat.txt)
if [[ ${1:-} == publish ]]; then
	src=${BENCH_OUT:-bench/out}
	rm -rf bench/results
	mkdir -p bench/results
	for f in "${RESULT_FILES[@]}"; do
		if [[ -f $src/$f ]]; then cp "$src/$f" bench/results/; fi
	done
	exec go run ./bench/cmd/report -in bench/results -out docs
fi

BENCH=${BENCH:-.}
BENCH_COUNT=${BENCH_COUNT:-6}
BENCH_TIME=${BENCH_TIME:-}
BENCH_PKGS=${BENCH_PKGS:-./...}
BENCH_EXTRAS=${BENCH_EXTRAS:-1}
OUT=${BENCH_OUT:-bench/out}
CACHE=${GRPCKIT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/grpckit}
BENCHSTAT=${BENCHSTAT:-$CACHE/bin/benchstat}

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
failed=()

{
	echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "go: $(go version)"
	echo "os: $(uname -srm)"
	echo "cpu: $(grep -m1 '^model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//')"
	echo "cores: $(nproc)"
	echo "memory: $(awk '/^MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo 2>/dev/null)"
	echo "commit: $(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)')"
	echo "bench: -bench '$BENCH'${BENCH_TIME:+ -benchtime $BENCH_TIME} -benchmem, the whole suite $BENCH_COUNT times with -count 1 (anchors and grpckit alternate), one package at a time"
} >"$OUT/machine.txt"

# The suite runs BENCH_COUNT times with -count 1 rather than once with
# -count N: go test repeats a benchmark N times before moving on to the
# next, so an anchor and grpckit's path would be measured minutes apart on a
# machine whose other load changes. Repeating the suite alternates them, and
# the median takes one value from each pass. -p 1: packages one after
# another, so no benchmark shares the cores with another package's.
: >"$OUT/bench.txt"
for i in $(seq "$BENCH_COUNT"); do
	echo "== pass $i of $BENCH_COUNT: go test -bench '$BENCH' $BENCH_PKGS" >&2
	# shellcheck disable=SC2086
	go test -p 1 -run '^$' -bench "$BENCH" -benchmem -count 1 ${BENCH_TIME:+-benchtime "$BENCH_TIME"} \
		-timeout 1h $BENCH_PKGS | tee -a "$OUT/bench.txt" || failed+=("go test -bench, pass $i")
done

if [[ $BENCH_EXTRAS != 0 ]]; then
	echo "== slow-node simulation" >&2
	go test -count 1 -run '^TestSimulation$' ./bench/lbsim -lbsim.out="$OUT/lbsim-sim.json" || failed+=("lbsim simulation")
	echo "== slow-node run over loopback" >&2
	go run ./bench/cmd/lbsim -out "$OUT/lbsim-loopback.json" || failed+=("lbsim loopback")
	echo "== consistent-hash balance and movement" >&2
	go run ./bench/cmd/chash -out "$OUT/chash.json" || failed+=("chash")
	echo "== load run over loopback" >&2
	go run ./bench/cmd/load -out "$OUT/load.json" || failed+=("load")
fi

echo "== benchstat, each grpckit path against its anchor" >&2
go run ./bench/cmd/report -in "$OUT" -pairs "$OUT/pairs" || failed+=("report -pairs")
if [[ -x $BENCHSTAT ]]; then
	"$BENCHSTAT" anchor="$OUT/pairs/anchor.txt" grpckit="$OUT/pairs/grpckit.txt" >"$OUT/benchstat.txt" || failed+=("benchstat")
else
	echo "bench.sh: no benchstat at $BENCHSTAT (make tools); skipping the comparison" >&2
fi

if ((${#failed[@]})); then
	echo "bench.sh: failed: ${failed[*]}" >&2
	exit 1
fi
echo "bench.sh: results in $OUT; publish with: scripts/bench.sh publish" >&2
