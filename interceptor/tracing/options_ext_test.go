package tracing_test

import (
	"testing"

	"github.com/grpckit/grpckit/interceptor/tracing"
)

// TestNilOptionIgnored checks that a nil Option is skipped by every
// constructor, as a nil grpc.ServerOption is, instead of panicking.
func TestNilOptionIgnored(t *testing.T) {
	build := map[string]func(...tracing.Option){
		"ServerOptions":           func(o ...tracing.Option) { tracing.ServerOptions(o...) },
		"DialOptions":             func(o ...tracing.Option) { tracing.DialOptions(o...) },
		"ServerOption":            func(o ...tracing.Option) { tracing.ServerOption(o...) },
		"DialOption":              func(o ...tracing.Option) { tracing.DialOption(o...) },
		"UnaryServerInterceptor":  func(o ...tracing.Option) { tracing.UnaryServerInterceptor(o...) },
		"StreamServerInterceptor": func(o ...tracing.Option) { tracing.StreamServerInterceptor(o...) },
		"UnaryClientInterceptor":  func(o ...tracing.Option) { tracing.UnaryClientInterceptor(o...) },
		"StreamClientInterceptor": func(o ...tracing.Option) { tracing.StreamClientInterceptor(o...) },
		"StatsHandlerPath":        func(o ...tracing.Option) { tracing.StatsHandlerPath(o...) },
	}
	for name, f := range build {
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("%s(nil): panic %v", name, r)
				}
			}()
			f(nil, tracing.WithPropagators(w3c), nil)
		}()
	}
}
