package ratelimit

import (
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// benchKeys is the number of distinct keys the per-key benchmarks spread
// requests over.
const benchKeys = 1024

func benchKeyNames() []string {
	keys := make([]string, benchKeys)
	for i := range keys {
		keys[i] = "client-" + strconv.Itoa(i)
	}
	return keys
}

// mapLimiter is the anchor: the usual map of *rate.Limiter behind one mutex.
type mapLimiter struct {
	mu sync.Mutex
	m  map[string]*rate.Limiter
}

func (ml *mapLimiter) allow(key string) bool {
	ml.mu.Lock()
	l := ml.m[key]
	if l == nil {
		l = rate.NewLimiter(1e9, 10)
		ml.m[key] = l
	}
	ml.mu.Unlock()
	return l.Allow()
}

// BenchmarkPerKey compares the per-key token bucket with the anchor, a
// map[string]*rate.Limiter behind a sync.Mutex, under RunParallel.
func BenchmarkPerKey(b *testing.B) {
	keys := benchKeyNames()
	b.Run("anchor=map+mutex", func(b *testing.B) {
		ml := &mapLimiter{m: make(map[string]*rate.Limiter)}
		runPerKey(b, keys, ml.allow)
	})
	b.Run("TokenBucket", func(b *testing.B) {
		tb, err := NewTokenBucket(1e9, 10)
		if err != nil {
			b.Fatal(err)
		}
		runPerKey(b, keys, tb.Allow)
	})
}

func runPerKey(b *testing.B, keys []string, allow func(string) bool) {
	for _, k := range keys {
		allow(k)
	}
	var next atomic.Uint32
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := int(next.Add(7919))
		for pb.Next() {
			allow(keys[i%benchKeys])
			i++
		}
	})
}

// BenchmarkAllow compares the sliding window, under the global key, with the
// anchor rate.Limiter.AllowN, single-threaded and under RunParallel.
func BenchmarkAllow(b *testing.B) {
	lim := rate.NewLimiter(1e9, 1e9)
	sw, err := NewSlidingWindow(1e9, time.Second)
	if err != nil {
		b.Fatal(err)
	}
	tb, err := NewTokenBucket(1e9, 1e9)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("anchor=rate.AllowN", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			lim.AllowN(time.Now(), 1)
		}
	})
	b.Run("SlidingWindow", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sw.Allow("")
		}
	})
	b.Run("TokenBucket", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			tb.Allow("")
		}
	})
	b.Run("parallel/anchor=rate.AllowN", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				lim.AllowN(time.Now(), 1)
			}
		})
	})
	b.Run("parallel/SlidingWindow", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				sw.Allow("")
			}
		})
	})
}

// BenchmarkStoreMemory measures the heap a limiter holds per key, at 10k and
// 1M keys, as the metric B/key.
func BenchmarkStoreMemory(b *testing.B) {
	for _, n := range []int{10_000, 1_000_000} {
		keys := make([]string, n)
		for i := range keys {
			keys[i] = "10.0." + strconv.Itoa(i>>8) + "." + strconv.Itoa(i&255)
		}
		b.Run("TokenBucket/keys="+strconv.Itoa(n), func(b *testing.B) {
			measureBytesPerKey(b, keys, func() func(string) bool {
				tb, _ := NewTokenBucket(100, 10, WithMaxKeys(2*n), WithIdleTimeout(time.Hour))
				return tb.Allow
			})
		})
		b.Run("SlidingWindow/keys="+strconv.Itoa(n), func(b *testing.B) {
			measureBytesPerKey(b, keys, func() func(string) bool {
				sw, _ := NewSlidingWindow(100, time.Second, WithMaxKeys(2*n), WithIdleTimeout(time.Hour))
				return sw.Allow
			})
		})
	}
}

func measureBytesPerKey(b *testing.B, keys []string, mk func() func(string) bool) {
	var perKey float64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		allow := mk()
		for _, k := range keys {
			allow(k)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perKey = float64(after.HeapAlloc-before.HeapAlloc) / float64(len(keys))
		runtime.KeepAlive(allow)
	}
	b.ReportMetric(perKey, "B/key")
}
