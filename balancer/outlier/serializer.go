package outlier

import "sync"

// serializer runs functions one at a time, in the order they were scheduled,
// on its own goroutine. Every call into the child policy and into the
// listeners the child registered goes through it, so the child sees the
// calls of gRPC, of the ejection timer and of finished RPCs strictly one
// after another. Scheduling never blocks.
type serializer struct {
	mu     sync.Mutex
	queue  []func()
	closed bool
	wake   chan struct{} // capacity 1: there is work
	done   chan struct{} // closed when the goroutine has returned
}

func newSerializer() *serializer {
	s := &serializer{wake: make(chan struct{}, 1), done: make(chan struct{})}
	go s.run()
	return s
}

// schedule queues f and reports whether it will run; after close it will not.
func (s *serializer) schedule(f func()) bool {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return false
	}
	s.queue = append(s.queue, f)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return true
}

// close runs what is queued, then last, and stops the goroutine; it returns
// once the goroutine has.
func (s *serializer) close(last func()) {
	s.schedule(last)
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	<-s.done
}

func (s *serializer) run() {
	defer close(s.done)
	for range s.wake {
		if !s.drain() {
			return
		}
	}
}

// drain runs the queued functions and reports whether more may come.
func (s *serializer) drain() bool {
	for {
		s.mu.Lock()
		q, closed := s.queue, s.closed
		s.queue = nil
		s.mu.Unlock()
		if len(q) == 0 {
			return !closed
		}
		for _, f := range q {
			f()
		}
	}
}
