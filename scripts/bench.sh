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
# To publish a run as the committed results and regenerate the report:
#   rm -rf bench/results && cp -r bench/out bench/results && go run ./bench/cmd/report -in bench/results -out docs
set -euo pipefail
cd "$(dirname "$0")/.."

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
	echo "bench: -bench '$BENCH' -count $BENCH_COUNT${BENCH_TIME:+ -benchtime $BENCH_TIME} -benchmem, one package at a time"
} >"$OUT/machine.txt"

echo "== go test -bench '$BENCH' -count $BENCH_COUNT $BENCH_PKGS" >&2
# -p 1: packages one after another, so no benchmark shares the cores with
# another package's.
# shellcheck disable=SC2086
go test -p 1 -run '^$' -bench "$BENCH" -benchmem -count "$BENCH_COUNT" ${BENCH_TIME:+-benchtime "$BENCH_TIME"} \
	-timeout 3h $BENCH_PKGS | tee "$OUT/bench.txt" || failed+=("go test -bench")

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
echo "bench.sh: results in $OUT; publish with: rm -rf bench/results && cp -r $OUT bench/results && go run ./bench/cmd/report -in bench/results -out docs" >&2
