package tracing

import (
	"fmt"
	"sync"
	"testing"
)

// TestMethodCacheBoundedConcurrently checks the cache's bound under
// concurrent callers asking for distinct methods: no more than maxMethods
// entries, whatever the interleaving, and every answer for its own method.
func TestMethodCacheBoundedConcurrently(t *testing.T) {
	for round := range 20 {
		var c methodCache
		var wg sync.WaitGroup
		const workers = 16
		start := make(chan struct{})
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for i := range maxMethods/workers + 8 {
					m := fmt.Sprintf("/svc.S/M%d-%d", w, i)
					if got := c.get(m, semconvNew).tag.FullMethodName; got != m {
						t.Errorf("get(%q) answered for %q", m, got)
						return
					}
				}
			}()
		}
		close(start)
		wg.Wait()
		n := 0
		c.m.Range(func(any, any) bool { n++; return true })
		if n > maxMethods {
			t.Fatalf("round %d: cache holds %d methods, more than %d", round, n, maxMethods)
		}
	}
}
