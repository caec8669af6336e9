package tracing

import (
	"context"
	"fmt"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/grpc/metadata"
)

const sayHello = "/greeter.v1.Greeter/SayHello"

// TestUnrecordedCostsOnlySamplingAndPropagation checks that an RPC whose
// span does not record allocates, on either side, no more than the span
// start (the sampling decision) and the propagation do on their own: no
// attribute, peer or method lookup is built for it.
func TestUnrecordedCostsOnlySamplingAndPropagation(t *testing.T) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.NeverSample())),
		sdktrace.WithSpanProcessor(dropSpans{}))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	opts := []Option{WithTracerProvider(tp), WithPropagators(benchW3C)}
	client, server := newRPCSide(trace.SpanKindClient, opts), newRPCSide(trace.SpanKindServer, opts)
	tracer := tp.Tracer(ScopeName)
	starts := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient)}

	var outgoing context.Context
	clientFloor := testing.AllocsPerRun(200, func() {
		ctx, _ := tracer.Start(context.Background(), sayHello[1:], starts...)
		outgoing = inject(ctx, benchW3C)
	})
	clientGot := testing.AllocsPerRun(200, func() {
		if _, span := client.startClient(context.Background(), sayHello); span != nil {
			t.Fatal("an unsampled client span was handed on as recording")
		}
	})
	md, _ := metadata.FromOutgoingContext(outgoing)
	incoming := metadata.NewIncomingContext(context.Background(), md)
	serverFloor := testing.AllocsPerRun(200, func() {
		tracer.Start(extract(incoming, benchW3C), sayHello[1:], starts...)
	})
	serverGot := testing.AllocsPerRun(200, func() {
		if _, span := server.startServer(incoming, sayHello); span != nil {
			t.Fatal("a server span with an unsampled parent was handed on as recording")
		}
	})
	if clientGot > clientFloor || serverGot > serverFloor {
		t.Errorf("allocations per unrecorded RPC: client %v, server %v; the span start and propagation alone: %v, %v",
			clientGot, serverGot, clientFloor, serverFloor)
	}
	noopSide := newRPCSide(trace.SpanKindClient, []Option{WithTracerProvider(noop.NewTracerProvider()), WithPropagators(benchW3C)})
	if n := testing.AllocsPerRun(200, func() { noopSide.startClient(context.Background(), sayHello) }); n != 0 {
		t.Errorf("a no-op provider with nothing to propagate: %v allocations per RPC, want 0", n)
	}
}

// TestMethodCacheBounded checks that the per-method cache keeps at most
// maxMethods entries whatever methods it is asked for, and still answers
// for the ones it no longer takes in.
func TestMethodCacheBounded(t *testing.T) {
	var c methodCache
	for i := range 3 * maxMethods {
		m := fmt.Sprintf("/svc.S/M%d", i)
		mi := c.get(m, semconvNew)
		if got := mi.tag.FullMethodName; got != m {
			t.Fatalf("get(%q) answered for %q", m, got)
		}
	}
	n := 0
	c.m.Range(func(any, any) bool { n++; return true })
	if n != maxMethods {
		t.Errorf("cache holds %d methods, want %d", n, maxMethods)
	}
}

// TestMethodAttrs checks the attributes per method under each set of
// conventions, as otelgrpc records them.
func TestMethodAttrs(t *testing.T) {
	cases := []struct {
		method string
		mode   semconvMode
		want   string
	}{
		{sayHello, semconvNew, "[rpc.method=greeter.v1.Greeter/SayHello rpc.system.name=grpc]"},
		{sayHello, semconvOld, "[rpc.system=grpc rpc.service=greeter.v1.Greeter rpc.method=SayHello]"},
		{sayHello, semconvDup, "[rpc.system=grpc rpc.service=greeter.v1.Greeter rpc.method=SayHello rpc.method=greeter.v1.Greeter/SayHello rpc.system.name=grpc]"},
		{"/nomethod", semconvOld, "[rpc.system=grpc]"},
		{"noslash", semconvNew, "[rpc.system.name=grpc]"},
		{"noslash", semconvOld, "[]"},
		{"noslash", semconvDup, "[rpc.system.name=grpc]"},
		{"/nomethod", semconvDup, "[rpc.system=grpc rpc.method=nomethod rpc.system.name=grpc]"},
	}
	for _, c := range cases {
		var got []string
		for _, kv := range methodAttrs(c.method, c.mode) {
			got = append(got, string(kv.Key)+"="+kv.Value.String())
		}
		if s := fmt.Sprint(got); s != c.want {
			t.Errorf("methodAttrs(%q, %d) = %s, want %s", c.method, c.mode, s, c.want)
		}
	}
}
