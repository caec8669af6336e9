package tracing

import (
	"strings"
	"sync"
	"sync/atomic"

	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// maxCachedMethods bounds startOptions: a client can call any method name,
// a server registers a few.
const maxCachedMethods = 1024

// spanName is the span name otelgrpc uses: the full method without its
// leading slash.
func spanName(fullMethod string) string {
	return strings.TrimPrefix(fullMethod, "/")
}

// startOptions caches, per span name, the options a span is started with:
// its kind and the attributes otelgrpc gives it, which samplers may look at.
// Building them allocates; looking them up does not.
type startOptions struct {
	byName sync.Map // span name -> []trace.SpanStartOption
	n      atomic.Int32
}

func (s *startOptions) get(kind trace.SpanKind, name string) []trace.SpanStartOption {
	if v, ok := s.byName.Load(name); ok {
		return v.([]trace.SpanStartOption)
	}
	opts := []trace.SpanStartOption{
		trace.WithSpanKind(kind),
		trace.WithAttributes(semconv.RPCMethod(name), semconv.RPCSystemNameGRPC),
	}
	if s.n.Load() < maxCachedMethods {
		if _, loaded := s.byName.LoadOrStore(name, opts); !loaded {
			s.n.Add(1)
		}
	}
	return opts
}
