#!/usr/bin/env bash
# Takes a screenshot of the demo's debug page (package debugz) into
# docs/debugz.png with headless Chromium (Debian: apt-get install -y chromium).
# Not part of `make test`.
#
#   scripts/screenshot-debugz.sh                 # waits for the outlier phase
#   PHASE=10s WAIT_FOR=grpckit_p2c scripts/screenshot-debugz.sh
#
# It runs the demo (embedded etcd, five backends), waits until the page shows
# a channel whose child policy is $WAIT_FOR, gives the phase $SETTLE to
# gather picks and rejections, shoots the page and stops the demo.
set -euo pipefail

cd "$(dirname "$0")/.."
PHASE=${PHASE:-8s}
WAIT_FOR=${WAIT_FOR:-grpckit_outlier_ejection}
SETTLE=${SETTLE:-4}
OUT=${OUT:-docs/debugz.png}
SIZE=${SIZE:-1280,1100}

chrome=""
for c in chromium chromium-browser google-chrome; do
	if command -v "$c" >/dev/null; then
		chrome=$c
		break
	fi
done
if [[ -z $chrome ]]; then
	echo "screenshot-debugz: no Chromium found; install it: apt-get install -y chromium" >&2
	exit 1
fi

tmp=$(mktemp -d)
demo_pid=""
cleanup() {
	if [[ -n $demo_pid ]]; then
		kill "$demo_pid" 2>/dev/null || true
		wait "$demo_pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

go build -o "$tmp/demo" ./examples/demo
"$tmp/demo" -phase "$PHASE" -live=false >"$tmp/demo.log" 2>&1 &
demo_pid=$!

url=""
for _ in $(seq 1 600); do
	url=$(sed -n 's/.*debug page: \(http[^ ]*\).*/\1/p' "$tmp/demo.log" | head -n 1)
	[[ -n $url ]] && break
	kill -0 "$demo_pid" 2>/dev/null || { cat "$tmp/demo.log" >&2; exit 1; }
	sleep 0.1
done
[[ -n $url ]] || { echo "screenshot-debugz: the demo printed no debug page URL" >&2; exit 1; }
echo "debug page: $url"

# Wait for the phase asked for, at most 10 minutes.
for _ in $(seq 1 1200); do
	if curl -fsS "$url?format=json" 2>/dev/null | grep -q "\"child_policy\": \"$WAIT_FOR\""; then
		break
	fi
	kill -0 "$demo_pid" 2>/dev/null || { cat "$tmp/demo.log" >&2; exit 1; }
	sleep 0.5
done
sleep "$SETTLE"

"$chrome" --headless --no-sandbox --disable-gpu --hide-scrollbars \
	--user-data-dir="$tmp/profile" --window-size="$SIZE" \
	--screenshot="$tmp/page.png" "$url" >/dev/null 2>&1
mv "$tmp/page.png" "$OUT"
echo "wrote $OUT"
