package stack_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/time/rate"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/grpckit/grpckit/interceptor/breaker"
	"github.com/grpckit/grpckit/interceptor/ratelimit"
	"github.com/grpckit/grpckit/interceptor/recovery"
	"github.com/grpckit/grpckit/interceptor/stack"
)

const (
	statusAttr   = "rpc.response.status_code"
	limitEvent   = "grpckit.ratelimit"
	decisionAttr = "grpckit.ratelimit.decision"
	onePerHour   = rate.Limit(1.0 / 3600)
	manyCalls    = 200
)

// hourly is a limiter admitting one call, then none for an hour.
func hourly(t *testing.T) *ratelimit.TokenBucket {
	t.Helper()
	l, err := ratelimit.NewTokenBucket(onePerHour, 1)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestHandlerPanicIsInternalOnServerSpan checks that recovery sits inside
// tracing: a panicking handler answers codes.Internal, without the panic's
// text, the server span records that status, and the server goes on serving.
func TestHandlerPanicIsInternalOnServerSpan(t *testing.T) {
	for _, r := range rpcs {
		t.Run(r.kind, func(t *testing.T) {
			rec, tr := traced(t)
			b := serve(t, tr)
			c := dial(t, b.Addr, nil)
			ctx := timeout(t)

			err := r.call(metadata.AppendToOutgoingContext(ctx, panicKey, "1"), c)
			if status.Code(err) != codes.Internal || strings.Contains(err.Error(), "handler panic") {
				t.Fatalf("panicking %s: %v, want Internal without the panic value", r.method, err)
			}
			span := waitEnded(t, rec, trace.SpanKindServer, r.method, 1)[0]
			got := []string{span.Status().Code.String(), attr(span, statusAttr)}
			if diff := cmp.Diff([]string{otelcodes.Error.String(), "INTERNAL"}, got); diff != "" {
				t.Errorf("server span status (-want +got):\n%s", diff)
			}
			if err := r.call(ctx, c); err != nil {
				t.Errorf("%s after the panic: %v", r.method, err)
			}
		})
	}
}

// panicLimiter panics when asked for a call.
type panicLimiter struct{}

func (panicLimiter) Reserve(string, time.Duration) (time.Duration, bool) { panic("limiter panic") }

// TestRecoveryWrapsLimiter checks that recovery sits outside the rate
// limiter, and that WithRecovery's options reach it.
func TestRecoveryWrapsLimiter(t *testing.T) {
	for _, r := range rpcs {
		t.Run(r.kind, func(t *testing.T) {
			seen := make(chan any, 1)
			b := serve(t, stack.WithLimiter(panicLimiter{}), stack.WithRecovery(recovery.WithHandler(
				func(_ context.Context, p *recovery.Panic) error {
					seen <- p.Value
					return status.Error(codes.Aborted, "recovered")
				})))
			c := dial(t, b.Addr, nil)

			if err := r.call(timeout(t), c); status.Code(err) != codes.Aborted {
				t.Fatalf("%s through a panicking limiter: %v, want the handler's Aborted", r.method, err)
			}
			if v := <-seen; v != "limiter panic" {
				t.Errorf("recovered %v, want the limiter's panic", v)
			}
			if n := b.Calls(); n != 0 {
				t.Errorf("the greeter got %d calls, want 0", n)
			}
		})
	}
}

// TestRateLimitRejectionOnServerSpan checks that a call over the server's
// limit fails with ResourceExhausted before the handler, and that the
// limiter's decisions are events on the server spans.
func TestRateLimitRejectionOnServerSpan(t *testing.T) {
	for _, r := range rpcs {
		t.Run(r.kind, func(t *testing.T) {
			rec, tr := traced(t)
			b := serve(t, tr, stack.WithLimiter(hourly(t)))
			c := dial(t, b.Addr, nil)
			ctx := timeout(t)

			if err := r.call(ctx, c); err != nil {
				t.Fatalf("first %s: %v", r.method, err)
			}
			err := r.call(ctx, c)
			if status.Code(err) != codes.ResourceExhausted || !strings.Contains(err.Error(), r.method) {
				t.Fatalf("second %s: %v, want ResourceExhausted naming the method", r.method, err)
			}
			if n := b.Calls(); n != 1 {
				t.Errorf("the greeter got %d calls, want 1", n)
			}
			got := map[string][]string{}
			for _, s := range waitEnded(t, rec, trace.SpanKindServer, r.method, 2) {
				got[attr(s, statusAttr)] = events(s, decisionAttr)
			}
			want := map[string][]string{
				"OK":                 {limitEvent + " " + decisionAttr + "=admitted"},
				"RESOURCE_EXHAUSTED": {limitEvent + " " + decisionAttr + "=rejected"},
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("server spans' events by status (-want +got):\n%s", diff)
			}
		})
	}
}

// TestOpenBreakerFailsFast checks that a call refused by an open breaker
// fails with Unavailable, never reaches the server, and that the breaker's
// rejection is an event on its client span.
func TestOpenBreakerFailsFast(t *testing.T) {
	for _, r := range rpcs {
		t.Run(r.kind, func(t *testing.T) {
			g, err := breaker.New(breaker.WithConsecutiveFailures(1))
			if err != nil {
				t.Fatal(err)
			}
			rec, tr := traced(t)
			b := serve(t)
			b.SetFailure(codes.Unavailable)
			c := dial(t, b.Addr, []stack.ClientOption{stack.WithBreaker(g), tr})
			ctx := timeout(t)

			if err := r.call(ctx, c); status.Code(err) != codes.Unavailable {
				t.Fatalf("%s to a failing server: %v, want Unavailable", r.method, err)
			}
			if s := g.State(r.method); s != breaker.StateOpen {
				t.Fatalf("breaker %s after a failure, want open", s)
			}
			before := b.Calls()
			err = r.call(ctx, c)
			if status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "circuit open") {
				t.Errorf("%s through an open breaker: %v, want Unavailable, circuit open", r.method, err)
			}
			if n := b.Calls(); n != before {
				t.Errorf("the server got %d calls, had %d before: the refused call reached it", n, before)
			}
			// Tracing is outermost, so the refused call has a client span
			// too, with the breaker's event on it.
			spans := waitEnded(t, rec, trace.SpanKindClient, r.method, 2)
			if got := events(spans[1]); !slices.Contains(got, "grpckit.breaker.rejected") {
				t.Errorf("the refused call's client span has events %v, want grpckit.breaker.rejected", got)
			}
		})
	}
}

// TestClientLimiterOutsideBreaker checks the client's order: after a
// server's pushback the client's limiter holds further calls without
// sending them, and the breaker inside it does not count them;
// WithoutRateLimit sends them all.
func TestClientLimiterOutsideBreaker(t *testing.T) {
	const calls = 5
	cases := []struct {
		name          string
		opts          []stack.ClientOption
		reached, seen int // server spans started; calls the breaker counted
	}{
		{"default", nil, 2, 2},
		{"WithoutRateLimit", []stack.ClientOption{stack.WithoutRateLimit()}, calls, calls},
	}
	for _, tc := range cases {
		for _, r := range rpcs {
			t.Run(tc.name+"/"+r.kind, func(t *testing.T) {
				rec, tr := traced(t)
				b := serve(t, tr, stack.WithLimiter(hourly(t)))
				g, err := breaker.New(breaker.WithConsecutiveFailures(100))
				if err != nil {
					t.Fatal(err)
				}
				c := dial(t, b.Addr, append(tc.opts, stack.WithBreaker(g)))
				ctx := timeout(t)

				var got []codes.Code
				for range calls {
					got = append(got, status.Code(r.call(ctx, c)))
				}
				want := []codes.Code{codes.OK, codes.ResourceExhausted, codes.ResourceExhausted, codes.ResourceExhausted, codes.ResourceExhausted}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("codes (-want +got):\n%s", diff)
				}
				if n := started(rec, trace.SpanKindServer, r.method); n != tc.reached {
					t.Errorf("%d calls reached the server, want %d", n, tc.reached)
				}
				if n := g.Counts(r.method).Requests; n != uint32(tc.seen) {
					t.Errorf("the breaker counted %d calls, want %d", n, tc.seen)
				}
			})
		}
	}
}

// TestWithoutTracing checks that tracing is on by default, with the global
// tracer provider and propagator, and that WithoutTracing removes the stats
// handler on either side: no span there, and no trace context crossing the
// wire.
func TestWithoutTracing(t *testing.T) {
	type spans struct{ Client, Server, ServerHasParent int }
	cases := []struct {
		name           string
		server, client stack.Option // nil for the default
		want           spans
	}{
		{"default", nil, nil, spans{1, 1, 1}},
		{"client WithoutTracing", nil, stack.WithoutTracing(), spans{0, 1, 0}},
		{"server WithoutTracing", stack.WithoutTracing(), nil, spans{1, 0, 0}},
	}
	for _, tc := range cases {
		for _, r := range rpcs {
			t.Run(tc.name+"/"+r.kind, func(t *testing.T) {
				rec := tracetest.NewSpanRecorder()
				tracedGlobally(t, rec)
				b := serve(t, tc.server)
				c := dial(t, b.Addr, []stack.ClientOption{tc.client})
				if err := r.call(timeout(t), c); err != nil {
					t.Fatalf("%s: %v", r.method, err)
				}
				var got spans
				if tc.want.Client > 0 {
					got.Client = len(waitEnded(t, rec, trace.SpanKindClient, r.method, 1))
				}
				if tc.want.Server > 0 {
					s := waitEnded(t, rec, trace.SpanKindServer, r.method, 1)
					got.Server = len(s)
					if s[0].Parent().IsValid() {
						got.ServerHasParent = 1
					}
				}
				// A span the stack left out would have started before
				// the call returned.
				got.Client = max(got.Client, started(rec, trace.SpanKindClient, r.method))
				got.Server = max(got.Server, started(rec, trace.SpanKindServer, r.method))
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("spans (-want +got):\n%s", diff)
				}
			})
		}
	}
}

// TestServerRateLimitPerPeer checks that the server has no limiter unless
// given one (no fixed rate is a safe default), and that a given limiter
// keeps a budget per peer host.
func TestServerRateLimitPerPeer(t *testing.T) {
	noClientLimits := []stack.ClientOption{stack.WithoutRateLimit(), stack.WithoutBreaker()}
	unary := rpcs[0]
	ctx := timeout(t)
	admitsAll := func(name string, opts ...stack.ServerOption) {
		t.Helper()
		c := dial(t, serve(t, opts...).Addr, noClientLimits)
		for i := range manyCalls {
			if err := unary.call(ctx, c); err != nil {
				t.Fatalf("%s: call %d: %v, want no rate limit", name, i, err)
			}
		}
	}
	admitsAll("default")
	admitsAll("WithoutRateLimit", stack.WithoutRateLimit())

	const burst = 10
	tb, err := ratelimit.NewTokenBucket(rate.Limit(1), burst)
	if err != nil {
		t.Fatal(err)
	}
	b := serve(t, stack.WithLimiter(tb))
	first := dial(t, b.Addr, noClientLimits)
	rejected := 0
	for range manyCalls {
		if err := unary.call(ctx, first); status.Code(err) == codes.ResourceExhausted {
			rejected++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if rejected == 0 {
		t.Errorf("a limiter of burst %d admitted %d calls in a row from one peer", burst, manyCalls)
	}
	other := dial(t, b.Addr, noClientLimits, fromHost("127.0.0.2"))
	for i := range burst {
		if err := unary.call(ctx, other); err != nil {
			t.Fatalf("call %d from another peer: %v, want its own burst", i, err)
		}
	}
}

// TestWithoutBreaker checks that the breaker Client builds stops calls to a
// failing server at its trip condition and that WithoutBreaker removes it.
// (The default trip condition, which waits longer for a lone backend, is
// tested in compose_ext_test.go.)
func TestWithoutBreaker(t *testing.T) {
	const calls = 10
	cases := []struct {
		name string
		opts []stack.ClientOption
		want int64 // calls the server got
	}{
		{"WithBreakerOptions ratio", []stack.ClientOption{stack.WithBreakerOptions(breaker.WithFailureRatio(0.6, 3))}, 3},
		{"WithBreakerOptions consecutive", []stack.ClientOption{stack.WithBreakerOptions(breaker.WithConsecutiveFailures(5))}, 5},
		{"WithoutBreaker", []stack.ClientOption{stack.WithoutBreaker()}, calls},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := serve(t, stack.WithoutRateLimit())
			b.SetFailure(codes.Unavailable)
			c := dial(t, b.Addr, tc.opts)
			ctx := timeout(t)
			for range calls {
				if err := rpcs[0].call(ctx, c); status.Code(err) != codes.Unavailable {
					t.Fatalf("call to a failing server: %v, want Unavailable", err)
				}
			}
			if n := b.Calls(); n != tc.want {
				t.Errorf("the server got %d of %d calls, want %d", n, calls, tc.want)
			}
		})
	}
}

// TestConstructionErrors checks that invalid and conflicting options are
// refused by Server and Client, every problem named, with the package's
// prefix.
func TestConstructionErrors(t *testing.T) {
	l := ratelimit.Unlimited
	g, err := breaker.New()
	if err != nil {
		t.Fatal(err)
	}
	server := func(opts ...stack.ServerOption) error {
		sopts, err := stack.Server(opts...)
		if err != nil && sopts != nil {
			t.Errorf("stack.Server returned options with its error")
		}
		return err
	}
	client := func(opts ...stack.ClientOption) error {
		copts, err := stack.Client(opts...)
		if err != nil && copts != nil {
			t.Errorf("stack.Client returned options with its error")
		}
		return err
	}
	cases := []struct {
		name string
		err  error
		want []string // the error's lines
	}{
		{"server nil limiter", server(stack.WithLimiter(nil)), []string{"stack: WithLimiter: nil limiter"}},
		{"client nil limiter", client(stack.WithLimiter(nil)), []string{"stack: WithLimiter: nil limiter"}},
		// A nil option inside a layer's options is named, not a panic.
		{"nil tracing option", server(stack.WithTracing(nil)), []string{"stack: WithTracing: nil tracing.Option at 0"}},
		{"nil limiter option", client(stack.WithLimiter(l, ratelimit.WithWait(0), nil)),
			[]string{"stack: WithLimiter: nil ratelimit.Option at 1"}},
		{"nil recovery option", server(stack.WithRecovery(nil)), []string{"stack: WithRecovery: nil recovery.Option at 0"}},
		{"nil breaker option", client(stack.WithBreakerOptions(nil)), []string{"stack: WithBreakerOptions: nil breaker.Option at 0"}},
		// NewTokenBucket's result with its error ignored: a typed nil.
		{"server typed nil limiter", server(stack.WithLimiter((*ratelimit.TokenBucket)(nil))),
			[]string{"stack: WithLimiter: nil limiter"}},
		{"client typed nil limiter", client(stack.WithLimiter((*ratelimit.TokenBucket)(nil))),
			[]string{"stack: WithLimiter: nil limiter"}},
		{"server limiter and none", server(stack.WithLimiter(l), stack.WithoutRateLimit()),
			[]string{"stack: WithLimiter and WithoutRateLimit both given"}},
		{"client limiter and none", client(stack.WithoutRateLimit(), stack.WithLimiter(l)),
			[]string{"stack: WithLimiter and WithoutRateLimit both given"}},
		{"two limiters", server(stack.WithLimiter(l), stack.WithLimiter(l)),
			[]string{"stack: WithLimiter given 2 times; give one limiter"}},
		{"tracing and none", server(stack.WithTracing(), stack.WithoutTracing()),
			[]string{"stack: WithTracing and WithoutTracing both given"}},
		{"bad breaker option", client(stack.WithBreakerOptions(breaker.WithConsecutiveFailures(0))),
			[]string{"stack: WithBreakerOptions: breaker: consecutive failures must be at least 1"}},
		{"nil group", client(stack.WithBreaker(nil)), []string{"stack: WithBreaker: nil Group"}},
		{"group and options", client(stack.WithBreaker(g), stack.WithBreakerOptions()),
			[]string{"stack: WithBreaker and WithBreakerOptions both given; configure the Group with breaker.New instead"}},
		{"group and none", client(stack.WithoutBreaker(), stack.WithBreaker(g)),
			[]string{"stack: WithoutBreaker given with WithBreaker or WithBreakerOptions"}},
		{"two groups", client(stack.WithBreaker(g), stack.WithBreaker(g)),
			[]string{"stack: WithBreaker given 2 times; give one Group"}},
		{"all at once", client(stack.WithLimiter(nil), stack.WithoutTracing(), stack.WithTracing(),
			stack.WithBreakerOptions(breaker.WithConsecutiveFailures(0))),
			[]string{
				"stack: WithLimiter: nil limiter",
				"stack: WithTracing and WithoutTracing both given",
				"stack: WithBreakerOptions: breaker: consecutive failures must be at least 1",
			}},
	}
	for _, tc := range cases {
		if tc.err == nil {
			t.Errorf("%s: no error, want %q", tc.name, tc.want)
			continue
		}
		if diff := cmp.Diff(tc.want, strings.Split(tc.err.Error(), "\n")); diff != "" {
			t.Errorf("%s: error lines (-want +got):\n%s", tc.name, diff)
		}
	}
}

// TestValidOptions checks that every layer can be configured or removed
// without an error, and that removing everything leaves only recovery.
func TestValidOptions(t *testing.T) {
	g, err := breaker.New()
	if err != nil {
		t.Fatal(err)
	}
	sopts, err := stack.Server(stack.WithoutTracing(), stack.WithoutRateLimit(), stack.WithRecovery())
	if err != nil || len(sopts) != 2 {
		t.Errorf("bare server: %d options, %v; want recovery's two", len(sopts), err)
	}
	copts, err := stack.Client(stack.WithoutTracing(), stack.WithoutRateLimit(), stack.WithoutBreaker())
	if err != nil || len(copts) != 0 {
		t.Errorf("bare client: %d options, %v; want none", len(copts), err)
	}
	if _, err := stack.Client(stack.WithBreaker(g), stack.WithLimiter(ratelimit.Unlimited, ratelimit.WithKey(ratelimit.KeyMethod)),
		stack.WithTracing(), stack.WithTracing(), nil); err != nil {
		t.Errorf("client with every option: %v", err)
	}
}
