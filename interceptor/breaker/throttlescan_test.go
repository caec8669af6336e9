package breaker

import (
	"strconv"
	"testing"
)

// TestThrottleFullScansAmortised: a Throttle past MaxKeys whose keys all
// have calls in their window cannot forget any; a run of new keys must not
// scan every key for each new one (quadratic), only after an eighth more,
// so the throttlers looked at stay within a constant per key created.
func TestThrottleFullScansAmortised(t *testing.T) {
	const maxKeys, keys = 64, 4096
	tr, _ := fakeThrottle(t, Throttling{}, 1)
	tr.opts.maxKeys = maxKeys
	for i := range keys {
		tr.done(tr.get("k"+strconv.Itoa(i)), nil) // each key has a call in its window
	}
	tr.mu.Lock()
	scanned, count := tr.scanned, tr.count
	tr.mu.Unlock()
	if count != keys {
		t.Fatalf("%d keys held, want %d (none is empty)", count, keys)
	}
	if ceiling := 16 * keys; scanned > ceiling {
		t.Errorf("creating %d busy keys past MaxKeys %d looked at %d throttlers, want at most %d", keys, maxKeys, scanned, ceiling)
	}
}
