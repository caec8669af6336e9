package debugz_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/grpckit/grpckit/debugz"
	"github.com/grpckit/grpckit/interceptor/ratelimit"
)

// scripted is a Limiter whose decisions a test sets per key.
type scripted struct{ reject map[string]bool }

func (s scripted) Reserve(key string, _ time.Duration) (time.Duration, bool) {
	if s.reject[key] || strings.HasPrefix(key, "bad") {
		return time.Second, false
	}
	return 0, true
}

// TestLimiterTopKeysInvariants drives a wrapped limiter with a skewed,
// hostile stream of keys (many unique, some huge) and checks Space-Saving's
// guarantees against exact counts: the summary holds at most TopKeysSize
// keys of at most MaxStringLen bytes; every key's true rejections lie in
// [Rejected-RejectedError, Rejected]; every key with more than
// total/TopKeysSize rejections is held; totals are exact.
func TestLimiterTopKeysInvariants(t *testing.T) {
	p := debugz.New()
	l := p.Limiter("server", scripted{})
	rng := rand.New(rand.NewPCG(1, 2))
	exact := map[string]uint64{}
	var admitted, rejected uint64
	for i := range 20000 {
		var key string
		switch r := rng.IntN(100); {
		case r < 30:
			key = "bad-heavy"
		case r < 45:
			key = "bad-second"
		case r < 60:
			key = fmt.Sprintf("bad-unique-%d", i)
		case r < 62:
			key = "bad-huge-" + strings.Repeat("<script>x</script>", 1000) + fmt.Sprint(i)
		default:
			key = fmt.Sprintf("good-%d", rng.IntN(50))
		}
		if _, ok := l.Reserve(key, 0); ok {
			admitted++
		} else {
			rejected++
			exact[clipKey(key)]++
		}
	}
	rep := report(t, p)
	if len(rep.Limiters) != 1 {
		t.Fatalf("%d limiters, want 1", len(rep.Limiters))
	}
	lv := rep.Limiters[0]
	if lv.Name != "server" || lv.Admitted != admitted || lv.Rejected != rejected || lv.SkippedSamples != 0 {
		t.Fatalf("limiter %s: admitted %d rejected %d skipped %d, want %d %d 0", lv.Name, lv.Admitted, lv.Rejected, lv.SkippedSamples, admitted, rejected)
	}
	if len(lv.TopKeys) > debugz.TopKeysSize {
		t.Fatalf("%d top keys, more than %d", len(lv.TopKeys), debugz.TopKeysSize)
	}
	held := map[string]bool{}
	for _, k := range lv.TopKeys {
		if len(k.Key) > debugz.MaxStringLen {
			t.Errorf("key of %d bytes held", len(k.Key))
		}
		held[k.Key] = true
		if got := exact[k.Key]; got > k.Rejected || got < k.Rejected-k.RejectedError {
			t.Errorf("key %.40q: true rejections %d outside [%d, %d]", k.Key, got, k.Rejected-k.RejectedError, k.Rejected)
		}
	}
	for k, n := range exact {
		if n > rejected/debugz.TopKeysSize && !held[k] {
			t.Errorf("key %.40q with %d of %d rejections not held", k, n, rejected)
		}
	}
	if lv.TopKeys[0].Key != "bad-heavy" || lv.TopKeys[1].Key != "bad-second" {
		t.Errorf("top keys start %q, %q; want bad-heavy, bad-second", lv.TopKeys[0].Key, lv.TopKeys[1].Key)
	}
	p.RemoveLimiter("server")
	if n := len(report(t, p).Limiters); n != 0 {
		t.Errorf("%d limiters after RemoveLimiter, want 0", n)
	}
}

// clipKey is the summary's key for k: its first MaxStringLen bytes.
func clipKey(k string) string {
	if len(k) <= debugz.MaxStringLen {
		return k
	}
	return k[:debugz.MaxStringLen]
}

// TestLimiterKeepsCanceler: the wrapper of a Canceler is a Canceler, and
// a cancelled admission is taken off the count; the wrapper of a plain
// Limiter is not.
func TestLimiterKeepsCanceler(t *testing.T) {
	p := debugz.New()
	tb, err := ratelimit.NewTokenBucket(1, 1)
	if err != nil {
		t.Fatal(err)
	}
	w := p.Limiter("tb", tb)
	c, ok := w.(ratelimit.Canceler)
	if !ok {
		t.Fatalf("wrapper of a TokenBucket is a %T, not a Canceler", w)
	}
	at, _, ok := c.ReserveAt("k", time.Minute)
	if !ok {
		t.Fatal("first ReserveAt refused")
	}
	at2, _, ok := c.ReserveAt("k", time.Minute)
	if !ok {
		t.Fatal("second ReserveAt (waiting) refused")
	}
	c.Cancel("k", at2)
	if _, ok := c.Reserve("k", 0); ok {
		t.Error("Reserve admitted with the bucket empty")
	}
	_ = at
	lv := report(t, p).Limiters[0]
	if lv.Admitted != 1 || lv.Rejected != 1 {
		t.Errorf("admitted %d rejected %d, want 1 1", lv.Admitted, lv.Rejected)
	}
	if _, ok := p.Limiter("plain", scripted{}).(ratelimit.Canceler); ok {
		t.Error("wrapper of a plain Limiter is a Canceler")
	}
}

// TestNilRegistrations: registering nothing panics with a message naming
// the package and the call.
func TestNilRegistrations(t *testing.T) {
	p := debugz.New()
	for name, f := range map[string]func(){
		"debugz: Limiter(\"l\", nil)":  func() { p.Limiter("l", nil) },
		"debugz: Breakers(\"b\", nil)": func() { p.Breakers("b", nil) },
		"debugz: Builder(nil)":         func() { p.Builder(nil) },
	} {
		func() {
			defer func() {
				if r := recover(); r == nil || !strings.HasPrefix(fmt.Sprint(r), name) {
					t.Errorf("%s: panic %v", name, r)
				}
			}()
			f()
		}()
	}
}
