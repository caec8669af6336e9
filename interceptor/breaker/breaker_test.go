package breaker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/grpckit/grpckit/internal/testutil"
)

const method = "/greeter.v1.Greeter/SayHello"

var (
	errUnavailable = status.Error(codes.Unavailable, "backend down")
	errNotFound    = status.Error(codes.NotFound, "no such name")
)

// invoker returns a unary invoker that counts its calls and returns err
// as a backend's answer: it fills the call's grpc.Peer option, as gRPC does
// for a call that got a transport stream.
func invoker(calls *atomic.Int64, err error) grpc.UnaryInvoker {
	return func(_ context.Context, _ string, _, _ any, _ *grpc.ClientConn, opts ...grpc.CallOption) error {
		calls.Add(1)
		reached(opts)
		return err
	}
}

var backendAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 50051}

// reached fills the grpc.Peer options in opts.
func reached(opts []grpc.CallOption) {
	for _, o := range opts {
		if p, ok := o.(grpc.PeerCallOption); ok {
			*p.PeerAddr = peer.Peer{Addr: backendAddr}
		}
	}
}

func mustGroup(t testing.TB, opts ...Option) *Group {
	t.Helper()
	g, err := New(opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return g
}

func TestClassify(t *testing.T) {
	live := context.Background()
	cancelled, cancel := context.WithCancel(live)
	cancel()
	expired, cancel2 := context.WithDeadline(live, time.Unix(0, 0))
	defer cancel2()
	isFailure := newCodeSet(DefaultFailureCodes).isFailure

	tests := []struct {
		name string
		ctx  context.Context
		err  error
		want error
	}{
		{"success", live, nil, nil},
		{"success after cancel", cancelled, nil, nil},
		{"unavailable", live, errUnavailable, errFailure},
		{"not found is an answer", live, errNotFound, nil},
		{"plain error is unknown", live, errors.New("boom"), errFailure},
		{"canceled code", live, status.Error(codes.Canceled, "x"), errExcluded},
		{"caller cancelled", cancelled, errUnavailable, errExcluded},
		{"caller deadline", expired, status.Error(codes.DeadlineExceeded, "x"), errFailure},
	}
	for _, c := range []codes.Code{codes.Internal, codes.Unknown, codes.DataLoss, codes.ResourceExhausted, codes.DeadlineExceeded} {
		tests = append(tests, struct {
			name string
			ctx  context.Context
			err  error
			want error
		}{c.String(), live, status.Error(c, "x"), errFailure})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := classify(tt.ctx, tt.err, isFailure)
			if got != tt.want {
				t.Errorf("classify(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestFailureCodesReplace(t *testing.T) {
	o, err := buildOptions([]Option{WithFailureCodes(codes.NotFound)})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{
		"NotFound":    o.isFailure(errNotFound),
		"Unavailable": o.isFailure(errUnavailable),
	}
	want := map[string]bool{"NotFound": true, "Unavailable": false}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("isFailure (-want +got):\n%s", diff)
	}
}

func TestFailureRatio(t *testing.T) {
	trip := failureRatio(0.6, 3)
	tests := []struct {
		succ, fail uint32
		exclusions uint32
		want       bool
	}{
		{0, 2, 0, false}, // too few finished
		{1, 2, 0, true},  // 66 %
		{2, 3, 0, true},  // exactly 60 %
		{3, 2, 0, false}, // 40 %
		{0, 2, 5, false}, // exclusions are not finished calls
		{1, 1, 0, false},
		{0, 3, 0, true},
	}
	for _, tt := range tests {
		c := Counts{Requests: tt.succ + tt.fail + tt.exclusions, TotalSuccesses: tt.succ, TotalFailures: tt.fail, TotalExclusions: tt.exclusions}
		if got := trip(c); got != tt.want {
			t.Errorf("failureRatio(0.6, 3)(%+v) = %v, want %v", c, got, tt.want)
		}
	}
}

func TestNewRefusesBadOptions(t *testing.T) {
	tests := []struct {
		name string
		opt  Option
		want string
	}{
		{"zero probes", WithMaxRequests(0), "max requests"},
		{"negative interval", WithInterval(-time.Second), "interval"},
		{"zero timeout", WithOpenTimeout(0), "open timeout"},
		{"ratio above 1", WithFailureRatio(1.5, 3), "failure ratio"},
		{"ratio zero", WithFailureRatio(0, 3), "failure ratio"},
		{"min requests zero", WithFailureRatio(0.5, 0), "failure ratio"},
		{"zero consecutive", WithConsecutiveFailures(0), "consecutive"},
		{"OK as failure", WithFailureCodes(codes.OK), "failure code"},
		{"nil key", WithKey(nil), "KeyFunc"},
		{"nil trip", WithReadyToTrip(nil), "ReadyToTrip"},
		{"nil classifier", WithIsFailure(nil), "IsFailure"},
		{"bucket longer than window", WithRollingWindow(time.Second, 2*time.Second), "bucket period"},
		{"zero bucket", WithRollingWindow(time.Second, 0), "rolling window"},
		{"spread share 1", WithSpread(1, 0), "spread share"},
		{"negative spread share", WithSpread(-0.1, 0), "spread share"},
		{"negative lone time", WithSpread(0.5, -time.Second), "lone time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.opt)
			if err == nil || !strings.HasPrefix(err.Error(), "breaker: ") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New() error = %v, want one starting with %q naming %q", err, "breaker: ", tt.want)
			}
		})
	}
	defer func() {
		if recover() == nil {
			t.Error("UnaryClientInterceptor(WithMaxRequests(0)) did not panic")
		}
	}()
	UnaryClientInterceptor(WithMaxRequests(0))
}

// TestStateSteps walks one breaker through closed → open → half-open →
// closed and back, on synctest's fake clock (which gobreaker reads too).
func TestStateSteps(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var changes []string
		g := mustGroup(t, WithFailureRatio(0.6, 3), WithOnStateChange(func(key string, from, to State) {
			changes = append(changes, fmt.Sprintf("%s: %v->%v", key, from, to))
		}))
		unary := g.UnaryClientInterceptor()
		ctx := context.Background()

		type step struct {
			sleep     time.Duration
			result    error // what the backend answers
			wantCode  codes.Code
			wantCall  bool // the backend was reached
			wantState State
		}
		steps := []step{
			{result: nil, wantCall: true, wantState: StateClosed},
			{result: errUnavailable, wantCode: codes.Unavailable, wantCall: true, wantState: StateClosed},                                           // 1/2 failed
			{result: errNotFound, wantCode: codes.NotFound, wantCall: true, wantState: StateClosed},                                                 // an answer: 1/3
			{result: errUnavailable, wantCode: codes.Unavailable, wantCall: true, wantState: StateClosed},                                           // 2/4 = 50 %
			{result: errUnavailable, wantCode: codes.Unavailable, wantCall: true, wantState: StateOpen},                                             // 3/5 = 60 %: trip
			{result: nil, wantCode: codes.Unavailable, wantCall: false, wantState: StateOpen},                                                       // fail fast
			{sleep: 30 * time.Second, result: nil, wantCode: codes.Unavailable, wantState: StateOpen},                                               // timeout not yet past
			{sleep: time.Millisecond, result: nil, wantCall: true, wantState: StateHalfOpen},                                                        // probe 1
			{result: nil, wantCall: true, wantState: StateHalfOpen},                                                                                 // probe 2
			{result: nil, wantCall: true, wantState: StateClosed},                                                                                   // probe 3 closes
			{result: errUnavailable, wantCode: codes.Unavailable, wantCall: true, wantState: StateClosed},                                           // fresh counts
			{result: errUnavailable, wantCode: codes.Unavailable, wantCall: true, wantState: StateClosed},                                           // 2 finished: too few
			{sleep: 10*time.Second + time.Millisecond, result: errUnavailable, wantCode: codes.Unavailable, wantCall: true, wantState: StateClosed}, // window cleared
			{result: errUnavailable, wantCode: codes.Unavailable, wantCall: true, wantState: StateClosed},
			{result: errUnavailable, wantCode: codes.Unavailable, wantCall: true, wantState: StateOpen},
			{sleep: 31 * time.Second, result: errUnavailable, wantCode: codes.Unavailable, wantCall: true, wantState: StateOpen}, // failed probe reopens
			{result: nil, wantCode: codes.Unavailable, wantState: StateOpen},
		}
		for i, s := range steps {
			time.Sleep(s.sleep)
			var calls atomic.Int64
			err := unary(ctx, method, nil, nil, nil, invoker(&calls, s.result))
			if got := status.Code(err); got != s.wantCode {
				t.Fatalf("step %d: code %v (%v), want %v", i, got, err, s.wantCode)
			}
			if got := calls.Load() == 1; got != s.wantCall {
				t.Fatalf("step %d: backend reached = %v, want %v", i, got, s.wantCall)
			}
			if got := g.State(method); got != s.wantState {
				t.Fatalf("step %d: state %v, want %v", i, got, s.wantState)
			}
		}
		want := []string{
			method + ": closed->open",
			method + ": open->half-open",
			method + ": half-open->closed",
			method + ": closed->open",
			method + ": open->half-open",
			method + ": half-open->open",
		}
		if diff := cmp.Diff(want, changes); diff != "" {
			t.Errorf("state changes (-want +got):\n%s", diff)
		}
	})
}

// tripAndWait opens g's breaker for method and waits out the open timeout.
func tripAndWait(t *testing.T, g *Group) {
	t.Helper()
	var calls atomic.Int64
	for g.State(method) != StateOpen {
		_ = g.unary(context.Background(), method, nil, nil, nil, invoker(&calls, errUnavailable))
		if calls.Load() > 10 {
			t.Fatalf("breaker did not open after %d failures", calls.Load())
		}
	}
	time.Sleep(DefaultOpenTimeout + time.Millisecond)
}

// TestHalfOpenAdmitsAtMostMaxRequests sends many concurrent calls at a
// half-open breaker: exactly MaxRequests reach the backend, the others are
// refused, and the probes' successes close it.
func TestHalfOpenAdmitsAtMostMaxRequests(t *testing.T) {
	for _, probes := range []uint32{1, 3, 5} {
		t.Run(fmt.Sprint(probes), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { halfOpenProbes(t, probes) })
		})
	}
}

func halfOpenProbes(t *testing.T, probes uint32) {
	g := mustGroup(t, WithFailureRatio(0.6, 3), WithMaxRequests(probes))
	tripAndWait(t, g)

	release := make(chan struct{})
	var inFlight, reached atomic.Int64
	blocking := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
		reached.Add(1)
		inFlight.Add(1)
		<-release
		return nil
	}
	const callers = 20
	errs := make(chan error, callers)
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() { errs <- g.unary(context.Background(), method, nil, nil, nil, blocking) })
	}
	synctest.Wait() // every caller is now blocked in the backend or done
	if got := reached.Load(); got != int64(probes) {
		t.Errorf("%d calls reached the backend of a half-open breaker, want %d", got, probes)
	}
	close(release)
	wg.Wait()
	close(errs)
	refused := 0
	for err := range errs {
		if err != nil {
			if !strings.Contains(status.Convert(err).Message(), "probe limit") || status.Code(err) != codes.Unavailable {
				t.Errorf("refused call: %v, want Unavailable naming the probe limit", err)
			}
			refused++
		}
	}
	if refused != callers-int(probes) {
		t.Errorf("%d calls refused, want %d", refused, callers-int(probes))
	}
	if got := g.State(method); got != StateClosed {
		t.Errorf("after %d successful probes the state is %v, want closed", probes, got)
	}
}

// TestCancelledProbeFreesSlot: a half-open probe cancelled by its caller is
// not counted and its slot goes to the next call.
func TestCancelledProbeFreesSlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := mustGroup(t, WithFailureRatio(0.6, 3), WithMaxRequests(1))
		tripAndWait(t, g)
		for range 3 {
			ctx, cancel := context.WithCancel(context.Background())
			cancelling := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
				cancel()
				return status.Error(codes.Canceled, "context canceled")
			}
			if err := g.unary(ctx, method, nil, nil, nil, cancelling); status.Code(err) != codes.Canceled {
				t.Fatalf("cancelled probe: %v, want Canceled", err)
			}
			if got := g.State(method); got != StateHalfOpen {
				t.Fatalf("after a cancelled probe the state is %v, want half-open", got)
			}
		}
		var calls atomic.Int64
		if err := g.unary(context.Background(), method, nil, nil, nil, invoker(&calls, nil)); err != nil || calls.Load() != 1 {
			t.Fatalf("probe after cancellations: err %v, reached %d, want admitted", err, calls.Load())
		}
		if got := g.State(method); got != StateClosed {
			t.Errorf("state %v, want closed", got)
		}
	})
}

// TestCancellationNeverCounts: cancelled calls in the closed state are not
// failures, however many. A call whose context had ended before it began
// is not even admitted.
func TestCancellationNeverCounts(t *testing.T) {
	g := mustGroup(t, WithConsecutiveFailures(1))
	for range 10 {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		var calls atomic.Int64
		_ = g.unary(ctx, method, nil, nil, nil, invoker(&calls, errUnavailable))
		_ = g.unary(context.Background(), method, nil, nil, nil, invoker(&calls, status.Error(codes.Canceled, "x")))
	}
	want := Counts{Requests: 10, TotalExclusions: 10}
	if diff := cmp.Diff(want, g.Counts(method)); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
	if got := g.State(method); got != StateClosed {
		t.Errorf("state %v, want closed", got)
	}
}

// TestCallbackReentry: a state-change callback that calls back into the
// Group (State, Counts, and an RPC through the interceptor that itself
// sees the breaker open) does not deadlock.
func TestCallbackReentry(t *testing.T) {
	var g *Group
	var seen []string
	nested := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
		return errUnavailable
	}
	g = mustGroup(t, WithConsecutiveFailures(1), WithOnStateChange(func(key string, from, to State) {
		err := g.unary(context.Background(), method, nil, nil, nil, nested)
		seen = append(seen, fmt.Sprintf("%v->%v state=%v failures=%d nested=%v",
			from, to, g.State(key), g.Counts(key).TotalFailures, status.Code(err)))
	}))
	done := make(chan error, 1)
	go func() {
		var calls atomic.Int64
		done <- g.unary(context.Background(), method, nil, nil, nil, invoker(&calls, errUnavailable))
	}()
	select {
	case err := <-done:
		if status.Code(err) != codes.Unavailable {
			t.Errorf("call: %v, want Unavailable", err)
		}
	case <-time.After(testutil.DefaultTimeout):
		t.Fatal("deadlock: the state-change callback never returned")
	}
	want := []string{"closed->open state=open failures=0 nested=Unavailable"}
	if diff := cmp.Diff(want, seen); diff != "" {
		t.Errorf("callback saw (-want +got):\n%s", diff)
	}
}

// TestInvokerPanicFreesSlot: an invoker that panics (on this side: the
// backend did not answer) is not counted and does not hold a half-open
// slot.
func TestInvokerPanicFreesSlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := mustGroup(t, WithFailureRatio(0.6, 3), WithMaxRequests(1))
		tripAndWait(t, g)
		func() {
			defer func() { _ = recover() }()
			_ = g.unary(context.Background(), method, nil, nil, nil,
				func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { panic("boom") })
		}()
		if got := g.State(method); got != StateHalfOpen {
			t.Errorf("after a panicking probe the state is %v, want half-open", got)
		}
		var calls atomic.Int64
		if err := g.unary(context.Background(), method, nil, nil, nil, invoker(&calls, nil)); err != nil || calls.Load() != 1 {
			t.Errorf("probe after the panic: %v, reached %d times; want admitted", err, calls.Load())
		}
	})
}

// TestGetKeys: every key maps to one breaker however its string is built
// (the hot cache is indexed by address), across more keys than cache slots.
func TestGetKeys(t *testing.T) {
	g := mustGroup(t)
	first := map[string]*entry{}
	for round := range 3 {
		for i := range 3 * hotSlots {
			key := strings.Clone(fmt.Sprintf("/svc/M%d", i)) // a new address each time
			e := g.get(key)
			if e.key != key {
				t.Fatalf("round %d: get(%q) returned the breaker of %q", round, key, e.key)
			}
			if prev, ok := first[key]; ok && prev != e {
				t.Fatalf("round %d: get(%q) returned a second breaker", round, key)
			}
			first[key] = e
		}
	}
	if got := len(g.Keys()); got != 3*hotSlots {
		t.Errorf("%d breakers, want %d", got, 3*hotSlots)
	}
}
