package debugz

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/grpckit/grpckit/interceptor/ratelimit"
)

// TopKeysSize is how many keys a limiter's summary holds: the memory it
// takes is bounded by TopKeysSize keys of at most MaxStringLen bytes,
// whatever keys the requests bring.
const TopKeysSize = 64

// Limiter returns l wrapped so that the page shows, under name, how many
// requests it admitted and rejected, and its keys with the most rejections.
// Pass the wrapper to the interceptors in place of l. When l is a
// ratelimit.Canceler, so is the wrapper (and cancelled admissions are
// taken off the admitted count). Registering another limiter under the same
// name replaces it; RemoveLimiter takes it off the page (the wrapper goes on
// working).
//
// The wrapper adds two atomic additions to each decision and samples it
// into the summary under a lock it only tries to take: a decision never
// waits, and one that finds the summary busy is counted in SkippedSamples
// instead. A key new to the summary costs one allocation (the key's copy).
//
// A nil l is a programming error: Limiter panics, naming name.
func (p *Page) Limiter(name string, l ratelimit.Limiter) ratelimit.Limiter {
	if l == nil {
		panic(fmt.Sprintf("debugz: Limiter(%q, nil): no limiter to wrap", name))
	}
	w := &limiter{name: name, inner: l}
	p.mu.Lock()
	p.limiters[name] = w
	p.mu.Unlock()
	if c, ok := l.(ratelimit.Canceler); ok {
		return &cancelLimiter{limiter: w, canceler: c}
	}
	return w
}

// RemoveLimiter takes the limiter registered under name off the page.
func (p *Page) RemoveLimiter(name string) {
	p.mu.Lock()
	delete(p.limiters, name)
	p.mu.Unlock()
}

type limiter struct {
	name     string
	inner    ratelimit.Limiter
	admitted atomic.Uint64
	rejected atomic.Uint64
	skipped  atomic.Uint64
	top      spaceSaving
}

func (l *limiter) Reserve(key string, maxWait time.Duration) (time.Duration, bool) {
	d, ok := l.inner.Reserve(key, maxWait)
	l.record(key, ok)
	return d, ok
}

func (l *limiter) record(key string, ok bool) {
	if ok {
		l.admitted.Add(1)
	} else {
		l.rejected.Add(1)
	}
	if !l.top.mu.TryLock() {
		l.skipped.Add(1)
		return
	}
	l.top.addLocked(key, ok)
	l.top.mu.Unlock()
}

func (l *limiter) view() LimiterView {
	return LimiterView{
		Name:           clip(l.name),
		Admitted:       l.admitted.Load(),
		Rejected:       l.rejected.Load(),
		SkippedSamples: l.skipped.Load(),
		TopKeys:        l.top.top(),
	}
}

// cancelLimiter is the wrapper of a ratelimit.Canceler.
type cancelLimiter struct {
	*limiter
	canceler ratelimit.Canceler
}

func (l *cancelLimiter) ReserveAt(key string, maxWait time.Duration) (time.Time, time.Duration, bool) {
	at, d, ok := l.canceler.ReserveAt(key, maxWait)
	l.record(key, ok)
	return at, d, ok
}

func (l *cancelLimiter) Cancel(key string, at time.Time) {
	l.canceler.Cancel(key, at)
	l.admitted.Add(^uint64(0))
}

// spaceSaving is the Space-Saving summary (Metwally, Agrawal, El Abbadi,
// 2005) of rejections by key, in TopKeysSize slots: a rejection of a key not
// held replaces the key with the fewest, inheriting its count as the error
// bound. Admissions are counted for keys held only: they never take a slot.
type spaceSaving struct {
	mu    sync.Mutex
	slots map[string]*slot
}

type slot struct {
	rejected, err, admitted uint64
}

func (s *spaceSaving) addLocked(key string, ok bool) {
	key = clipKey(key)
	if sl := s.slots[key]; sl != nil {
		if ok {
			sl.admitted++
		} else {
			sl.rejected++
		}
		return
	}
	if ok {
		return
	}
	if s.slots == nil {
		s.slots = make(map[string]*slot, TopKeysSize)
	}
	if len(s.slots) < TopKeysSize {
		s.slots[strings.Clone(key)] = &slot{rejected: 1}
		return
	}
	minKey, minSlot := "", (*slot)(nil)
	for k, sl := range s.slots {
		if minSlot == nil || sl.rejected < minSlot.rejected {
			minKey, minSlot = k, sl
		}
	}
	delete(s.slots, minKey)
	*minSlot = slot{rejected: minSlot.rejected + 1, err: minSlot.rejected}
	s.slots[strings.Clone(key)] = minSlot
}

// clipKey is clip without the allocation of the marker: the summary's key
// for an over-long key is its first MaxStringLen bytes.
func clipKey(k string) string {
	if len(k) <= MaxStringLen {
		return k
	}
	cut := MaxStringLen
	for cut > 0 && !utf8.RuneStart(k[cut]) {
		cut--
	}
	return k[:cut]
}

func (s *spaceSaving) top() []TopKey {
	s.mu.Lock()
	out := make([]TopKey, 0, len(s.slots))
	for k, sl := range s.slots {
		out = append(out, TopKey{Key: k, Rejected: sl.rejected, RejectedError: sl.err, Admitted: sl.admitted})
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b TopKey) int {
		return cmp.Or(cmp.Compare(b.Rejected, a.Rejected), cmp.Compare(a.Key, b.Key))
	})
	return out
}
