package retrybudget_test

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/grpckit/grpckit/interceptor/retrybudget"
	"github.com/grpckit/grpckit/internal/greeter"
	"github.com/grpckit/grpckit/internal/testutil"
	greeterv1 "github.com/grpckit/grpckit/proto/greeter/v1"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

var fastPolicy = retrybudget.Policy{
	MaxAttempts:          5,
	InitialBackoff:       time.Millisecond,
	MaxBackoff:           2 * time.Millisecond,
	BackoffMultiplier:    2,
	RetryableStatusCodes: []codes.Code{codes.Unavailable},
}

func setup(t *testing.T, srvOpts []grpc.ServerOption, opts ...retrybudget.Option) (context.Context, *greeter.Running, *retrybudget.Budget, greeterv1.GreeterClient) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testutil.DefaultTimeout)
	t.Cleanup(cancel)
	srv := greeter.Start(t, kitresolver.Instance{}, srvOpts...)
	b, err := retrybudget.New(append([]retrybudget.Option{retrybudget.WithPolicy(fastPolicy)}, opts...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	cc, err := grpc.NewClient(srv.Addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDisableRetry(),
		grpc.WithChainUnaryInterceptor(b.UnaryClientInterceptor()),
		grpc.WithChainStreamInterceptor(b.StreamClientInterceptor()),
	)
	if err != nil {
		t.Fatalf("grpc.NewClient: %v", err)
	}
	t.Cleanup(func() { cc.Close() })
	return ctx, srv, b, greeterv1.NewGreeterClient(cc)
}

func drain[T any](recv func() (T, error)) error {
	for {
		if _, err := recv(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// calls is one successful call of each kind.
var calls = []func(ctx context.Context, c greeterv1.GreeterClient) error{
	func(ctx context.Context, c greeterv1.GreeterClient) error {
		_, err := c.SayHello(ctx, &greeterv1.SayHelloRequest{Name: "unary"})
		return err
	},
	func(ctx context.Context, c greeterv1.GreeterClient) error {
		s, err := c.SayHelloStream(ctx, &greeterv1.SayHelloStreamRequest{Name: "server", Count: 2})
		if err != nil {
			return err
		}
		return drain(s.Recv)
	},
	func(ctx context.Context, c greeterv1.GreeterClient) error {
		s, err := c.SayHelloClientStream(ctx)
		if err != nil {
			return err
		}
		if err := s.Send(&greeterv1.SayHelloClientStreamRequest{Name: "a"}); err != nil {
			return err
		}
		_, err = s.CloseAndRecv()
		return err
	},
	func(ctx context.Context, c greeterv1.GreeterClient) error {
		s, err := c.SayHelloBidi(ctx)
		if err != nil {
			return err
		}
		if err := s.Send(&greeterv1.SayHelloBidiRequest{Name: "bidi"}); err != nil {
			return err
		}
		if err := s.CloseSend(); err != nil {
			return err
		}
		return drain(s.Recv)
	},
}

// TestRetriesWithinBudget: successes of all four RPC kinds earn retries;
// against a backend that fails everything, called from several goroutines
// at once, the server sees exactly the first attempts plus the budget,
// though the policy would allow four times as many retries.
func TestRetriesWithinBudget(t *testing.T) {
	ctx, srv, b, client := setup(t, nil, retrybudget.WithRatio(0.5), retrybudget.WithMinPerSecond(0.1), retrybudget.WithWindow(time.Hour, 1))
	for range 4 {
		for i, call := range calls {
			if err := call(ctx, client); err != nil {
				t.Fatalf("call kind %d: %v", i, err)
			}
		}
	}
	// 16 successes at 0.5, plus 0.1/s over an hour.
	if got, want := b.Available(), 8+360; got != want {
		t.Fatalf("Available after 16 successes = %d, want %d", got, want)
	}
	srv.SetFailure(codes.Unavailable)
	before := srv.Calls()
	const goroutines, each = 8, 25
	const failing = goroutines * each
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range each {
				if _, err := client.SayHello(ctx, &greeterv1.SayHelloRequest{}); status.Code(err) != codes.Unavailable {
					t.Errorf("call to a failing backend: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	if got, want := srv.Calls()-before, int64(failing+8+360); got != want {
		t.Errorf("server saw %d attempts for %d calls, want %d (each call once, plus the budget)", got, failing, want)
	}
	if b.Available() != 0 {
		t.Errorf("Available = %d after the budget was spent", b.Available())
	}
}

// attemptCounter is a server option that counts attempts and fails the
// ones fail says to, with a pushback trailer if pushback is set.
func attemptCounter(n *atomic.Int64, fail func(attempt int64) bool, pushback string) grpc.ServerOption {
	return grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		if a := n.Add(1); fail(a) {
			if pushback != "" {
				_ = grpc.SetTrailer(ctx, metadata.Pairs("grpc-retry-pushback-ms", pushback))
			}
			return nil, status.Error(codes.Unavailable, "failed attempt")
		}
		return h(ctx, req)
	})
}

// TestRetryRecovers: a call whose first attempt fails and second succeeds
// returns the success, having spent one retry.
func TestRetryRecovers(t *testing.T) {
	var n atomic.Int64
	ctx, _, b, client := setup(t, []grpc.ServerOption{attemptCounter(&n, func(a int64) bool { return a == 1 }, "")},
		retrybudget.WithRatio(0), retrybudget.WithWindow(time.Hour, 1))
	avail := b.Available()
	if _, err := client.SayHello(ctx, &greeterv1.SayHelloRequest{}); err != nil {
		t.Fatalf("call: %v", err)
	}
	if n.Load() != 2 || avail-b.Available() != 1 {
		t.Errorf("%d attempts, %d retries spent; want 2 and 1", n.Load(), avail-b.Available())
	}
}

// TestPushback: a negative or invalid pushback from the server stops
// retrying; a valid one is the delay before the retry.
func TestPushback(t *testing.T) {
	for _, tc := range []struct {
		pushback string
		attempts int64
		minTime  time.Duration
	}{
		{"-1", 1, 0},
		{"soon", 1, 0},
		{"40", 5, 4 * 40 * time.Millisecond},
	} {
		var n atomic.Int64
		ctx, _, _, client := setup(t, []grpc.ServerOption{attemptCounter(&n, func(int64) bool { return true }, tc.pushback)})
		start := time.Now()
		if _, err := client.SayHello(ctx, &greeterv1.SayHelloRequest{}); status.Code(err) != codes.Unavailable {
			t.Fatalf("pushback %q: call: %v", tc.pushback, err)
		}
		if took := time.Since(start); n.Load() != tc.attempts || took < tc.minTime {
			t.Errorf("pushback %q: %d attempts in %v, want %d in at least %v", tc.pushback, n.Load(), took, tc.attempts, tc.minTime)
		}
	}
}

// TestCancelledNotDeposited: a call cancelled by its caller deposits
// nothing and is not retried.
func TestCancelledNotDeposited(t *testing.T) {
	ctx, srv, b, client := setup(t, nil, retrybudget.WithRatio(1), retrybudget.WithMinPerSecond(0), retrybudget.WithWindow(time.Hour, 1))
	srv.SetDelay(time.Minute)
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := client.SayHello(cctx, &greeterv1.SayHelloRequest{}); status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("call: %v", err)
	}
	if b.Available() != 0 {
		t.Errorf("Available = %d after a call that timed out, want 0", b.Available())
	}
}

// TestLocalRefusalNotRetried: an attempt refused inside the interceptor,
// before the network (as a breaker or throttle does), is neither retried
// nor deposited.
func TestLocalRefusalNotRetried(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testutil.DefaultTimeout)
	defer cancel()
	srv := greeter.Start(t, kitresolver.Instance{})
	b, err := retrybudget.New(retrybudget.WithPolicy(fastPolicy), retrybudget.WithRatio(1), retrybudget.WithMinPerSecond(1))
	if err != nil {
		t.Fatal(err)
	}
	var refusals atomic.Int64
	refuse := func(context.Context, string, any, any, *grpc.ClientConn, grpc.UnaryInvoker, ...grpc.CallOption) error {
		refusals.Add(1)
		return status.Error(codes.Unavailable, "breaker: refused")
	}
	cc, err := grpc.NewClient(srv.Addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithChainUnaryInterceptor(b.UnaryClientInterceptor(), refuse),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	avail := b.Available()
	if _, err := greeterv1.NewGreeterClient(cc).SayHello(ctx, &greeterv1.SayHelloRequest{}); status.Code(err) != codes.Unavailable {
		t.Fatalf("call: %v", err)
	}
	if refusals.Load() != 1 || b.Available() != avail {
		t.Errorf("%d attempts, budget %d -> %d; want 1 attempt and the budget untouched", refusals.Load(), avail, b.Available())
	}
}

// TestNoDoubleRetries: with a retryPolicy of 5 attempts in the service
// config as well, the server sees only the interceptor's attempts: gRPC
// does not retry them again.
func TestNoDoubleRetries(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testutil.DefaultTimeout)
	defer cancel()
	srv := greeter.Start(t, kitresolver.Instance{})
	srv.SetFailure(codes.Unavailable)
	b, err := retrybudget.New(retrybudget.WithPolicy(fastPolicy), retrybudget.WithRatio(0), retrybudget.WithMinPerSecond(1), retrybudget.WithWindow(time.Hour, 1))
	if err != nil {
		t.Fatal(err)
	}
	cc, err := grpc.NewClient(srv.Addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultServiceConfig(`{"methodConfig":[{"name":[{"service":"greeter.v1.Greeter"}],"retryPolicy":{
			"maxAttempts":5,"initialBackoff":"0.001s","maxBackoff":"0.002s","backoffMultiplier":2,"retryableStatusCodes":["UNAVAILABLE"]}}]}`),
		grpc.WithChainUnaryInterceptor(b.UnaryClientInterceptor()),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	client := greeterv1.NewGreeterClient(cc)
	const calls = 10
	for range calls {
		if _, err := client.SayHello(ctx, &greeterv1.SayHelloRequest{}); status.Code(err) != codes.Unavailable {
			t.Fatalf("call: %v", err)
		}
	}
	// Each call: 1 attempt + 4 retries from the interceptor, within the
	// budget of 3600, and nothing more from gRPC.
	if got, want := srv.Calls(), int64(calls*fastPolicy.MaxAttempts); got != want {
		t.Errorf("server saw %d attempts, want %d", got, want)
	}
}
