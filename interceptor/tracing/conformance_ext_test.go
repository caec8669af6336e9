package tracing_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/attribute"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/grpckit/grpckit/interceptor/tracing"
	"github.com/grpckit/grpckit/internal/greeter"
	"github.com/grpckit/grpckit/internal/testutil"
	greeterv1 "github.com/grpckit/grpckit/proto/greeter/v1"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

// instrumentation is one way of tracing a server and its clients.
type instrumentation struct {
	name   string
	server func(trace.TracerProvider) []grpc.ServerOption
	dial   func(trace.TracerProvider) []grpc.DialOption
}

var (
	otelgrpcHandlers = instrumentation{"otelgrpc",
		func(tp trace.TracerProvider) []grpc.ServerOption {
			return []grpc.ServerOption{grpc.StatsHandler(otelgrpc.NewServerHandler(otelgrpcOpts(tp)...))}
		},
		func(tp trace.TracerProvider) []grpc.DialOption {
			return []grpc.DialOption{grpc.WithStatsHandler(otelgrpc.NewClientHandler(otelgrpcOpts(tp)...))}
		}}
	defaultPath = instrumentation{"interceptors",
		func(tp trace.TracerProvider) []grpc.ServerOption {
			return tracing.ServerOptions(tracing.WithTracerProvider(tp), tracing.WithPropagators(w3c))
		},
		func(tp trace.TracerProvider) []grpc.DialOption {
			return tracing.DialOptions(tracing.WithTracerProvider(tp), tracing.WithPropagators(w3c))
		}}
)

func otelgrpcOpts(tp trace.TracerProvider) []otelgrpc.Option {
	return []otelgrpc.Option{otelgrpc.WithTracerProvider(tp), otelgrpc.WithPropagators(w3c),
		otelgrpc.WithMeterProvider(metricnoop.NewMeterProvider())}
}

// spanView is what the conformance test compares of a span: parent links
// are given as the role of the parent ("root", "client", "none").
type spanView struct {
	Kind, Name, Parent, Status, Description string
	Attrs                                   map[string]string
}

const statusAttr = "rpc.response.status_code"

var canonical = map[codes.Code]string{codes.Unavailable: "UNAVAILABLE", codes.InvalidArgument: "INVALID_ARGUMENT"}

// extraAttrs are the attributes the default path sets beyond otelgrpc's;
// the comparison leaves them out and checks them apart.
var extraAttrs = []attribute.Key{"network.peer.address", "network.peer.port"}

// TestConformsToOtelgrpc runs the same RPCs, all four kinds, succeeding
// and failing, with and without a parent span, under otelgrpc's handlers
// and under the default interceptors, and checks the spans agree in name,
// kind, parent, status and semantic-convention attributes.
//
// Both read OTEL_SEMCONV_STABILITY_OPT_IN when built, so the test runs
// with each set of conventions.
func TestConformsToOtelgrpc(t *testing.T) {
	for _, mode := range []string{"", "rpc/old", "rpc/dup"} {
		t.Run("conventions="+mode, func(t *testing.T) {
			t.Setenv("OTEL_SEMCONV_STABILITY_OPT_IN", mode)
			conform(t)
		})
	}
}

func conform(t *testing.T) {
	for _, c := range strictCallers {
		for _, fail := range []codes.Code{codes.OK, codes.Unavailable, codes.InvalidArgument} {
			for _, parent := range []bool{true, false} {
				t.Run(fmt.Sprintf("%s/%v/parent=%v", c.kind, fail, parent), func(t *testing.T) {
					want := observe(t, otelgrpcHandlers, c.call, fail, parent)
					got := observe(t, defaultPath, c.call, fail, parent)
					if fail != codes.OK && want[0].Attrs[statusAttr] == "OK" {
						// grpc-go may end a failed attempt with io.EOF when
						// the client sends as the server's early status
						// arrives, and report that as success to stats
						// handlers; the interceptors see the call's error.
						// Compare the rest.
						want[0].Status, want[0].Description = got[0].Status, got[0].Description
						want[0].Attrs[statusAttr] = got[0].Attrs[statusAttr]
						if got[0].Attrs[statusAttr] != canonical[fail] {
							t.Errorf("client span's status code %s, want %s", got[0].Attrs[statusAttr], canonical[fail])
						}
					}
					if diff := cmp.Diff(want, got); diff != "" {
						t.Errorf("spans (-otelgrpc +interceptors):\n%s", diff)
					}
				})
			}
		}
	}
}

// observe makes one call through inst to a backend failing with fail and
// returns its client and server spans, client first.
func observe(t *testing.T, inst instrumentation, call func(context.Context, greeterv1.GreeterClient) error, fail codes.Code, parent bool) []spanView {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	backend := greeter.Start(t, kitresolver.Instance{ID: "b"}, inst.server(tp)...)
	backend.SetFailure(fail)
	cc, err := grpc.NewClient(backend.Addr, append(inst.dial(tp), grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })

	ctx, cancel := context.WithTimeout(context.Background(), testutil.DefaultTimeout)
	defer cancel()
	var root trace.Span
	if parent {
		ctx, root = tp.Tracer("test").Start(ctx, "root")
	}
	err = call(ctx, greeterv1.NewGreeterClient(cc))
	if got := codeOf(err); got != fail {
		t.Fatalf("%s: call ended with %v, want %v", inst.name, err, fail)
	}
	want := 2
	if parent {
		root.End()
		want = 3
	}
	spans := waitEnded(t, rec, want)
	return views(t, inst.name, spans, port(t, backend.Addr))
}

func codeOf(err error) codes.Code { return status.Code(err) }

// views describes the client and server spans of spans, with the backend's
// port written "backend" so runs against different backends compare.
func views(t *testing.T, inst string, spans []sdktrace.ReadOnlySpan, backendPort string) []spanView {
	t.Helper()
	roles := map[trace.SpanID]string{}
	for _, s := range spans {
		role := "root"
		if s.SpanKind() != trace.SpanKindInternal {
			role = s.SpanKind().String()
		}
		roles[s.SpanContext().SpanID()] = role
	}
	var out []spanView
	for _, s := range spans {
		if s.SpanKind() == trace.SpanKindInternal {
			continue
		}
		v := spanView{Kind: s.SpanKind().String(), Name: s.Name(), Parent: "none",
			Status: s.Status().Code.String(), Description: s.Status().Description, Attrs: map[string]string{}}
		if p := s.Parent(); p.IsValid() {
			v.Parent = roles[p.SpanID()]
			if v.Parent == "" {
				v.Parent = "unknown " + p.SpanID().String()
			}
		}
		extra := 0
		for _, kv := range s.Attributes() {
			val := kv.Value.String()
			if val == backendPort {
				val = "backend"
			}
			if slices.Contains(extraAttrs, kv.Key) {
				extra++
				continue
			}
			v.Attrs[string(kv.Key)] = val
		}
		if inst == defaultPath.name && extra != len(extraAttrs) {
			t.Errorf("%s %s has %d of %v", v.Kind, v.Name, extra, extraAttrs)
		}
		out = append(out, v)
	}
	if len(out) != 2 {
		t.Fatalf("%s: %d client and server spans, want 2", inst, len(out))
	}
	slices.SortFunc(out, func(a, b spanView) int { return cmpString(a.Kind, b.Kind) })
	return out
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// strictCallers are the four RPC kinds, each reading the call's status
// even when the server ends the call while the client still sends.
var strictCallers = []struct {
	kind string
	call func(context.Context, greeterv1.GreeterClient) error
}{
	{"unary", func(ctx context.Context, c greeterv1.GreeterClient) error {
		_, err := c.SayHello(ctx, &greeterv1.SayHelloRequest{Name: "ann"})
		return err
	}},
	{"server stream", callServerStream},
	{"client stream", func(ctx context.Context, c greeterv1.GreeterClient) error {
		s, err := c.SayHelloClientStream(ctx)
		if err != nil {
			return err
		}
		for _, n := range []string{"ann", "bob"} {
			if err := s.Send(&greeterv1.SayHelloClientStreamRequest{Name: n}); err != nil {
				break // io.EOF: the status comes with CloseAndRecv
			}
		}
		_, err = s.CloseAndRecv()
		return err
	}},
	{"bidi", func(ctx context.Context, c greeterv1.GreeterClient) error {
		s, err := c.SayHelloBidi(ctx)
		if err != nil {
			return err
		}
		for _, n := range []string{"ann", "bob"} {
			if err := s.Send(&greeterv1.SayHelloBidiRequest{Name: n}); err != nil {
				break
			}
			if _, err := s.Recv(); err != nil {
				return err
			}
		}
		if err := s.CloseSend(); err != nil {
			return err
		}
		if _, err := s.Recv(); !errors.Is(err, io.EOF) {
			return err
		}
		return nil
	}},
}
