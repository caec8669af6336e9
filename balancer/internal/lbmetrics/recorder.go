package lbmetrics

import (
	"strings"
	"sync"

	estats "google.golang.org/grpc/experimental/stats"
)

// TestRecorder is an estats.MetricsRecorder for tests: it keeps the
// asynchronous reporters registered with it and reads them on Collect.
// Synchronous recordings are dropped.
type TestRecorder struct {
	estats.UnimplementedMetricsRecorder

	mu        sync.Mutex
	reporters map[int]estats.AsyncMetricReporter
	next      int
}

// Registered returns how many reporters are registered.
func (r *TestRecorder) Registered() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.reporters)
}

// RegisterAsyncReporter keeps rep until the returned function is called.
func (r *TestRecorder) RegisterAsyncReporter(rep estats.AsyncMetricReporter, _ ...estats.AsyncMetric) func() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.reporters == nil {
		r.reporters = map[int]estats.AsyncMetricReporter{}
	}
	id := r.next
	r.next++
	r.reporters[id] = rep
	var once sync.Once
	return func() {
		once.Do(func() {
			r.mu.Lock()
			defer r.mu.Unlock()
			delete(r.reporters, id)
		})
	}
}

// Collect runs every reporter and returns the values they recorded, keyed
// by metric name, then the labels joined with "|".
func (r *TestRecorder) Collect() map[string]map[string]int64 {
	r.mu.Lock()
	reps := make([]estats.AsyncMetricReporter, 0, len(r.reporters))
	for _, rep := range r.reporters {
		reps = append(reps, rep)
	}
	r.mu.Unlock()
	c := collector{}
	for _, rep := range reps {
		_ = rep.Report(c)
	}
	return c
}

type collector map[string]map[string]int64

func (c collector) RecordInt64AsyncGauge(h *estats.Int64AsyncGaugeHandle, v int64, labels ...string) {
	name := h.Descriptor().Name
	if c[name] == nil {
		c[name] = map[string]int64{}
	}
	c[name][strings.Join(labels, "|")] = v
}
