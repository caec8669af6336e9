package overload

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"time"

	aegisrl "github.com/go-kratos/aegis/ratelimit"
	"github.com/go-kratos/aegis/ratelimit/bbr"
	"golang.org/x/time/rate"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/grpckit/grpckit/interceptor/ratelimit"
	"github.com/grpckit/grpckit/interceptor/shedding"
	greeterv1 "github.com/grpckit/grpckit/proto/greeter/v1"
)

// The protections compared, in the order the report lists them.
const (
	None        = "none"
	TokenBucket = "token bucket"
	AegisBBR    = "aegis BBR"
	Grpckit     = "grpckit"
)

// Protections are the protections every load runs with.
var Protections = []string{None, TokenBucket, AegisBBR, Grpckit}

// spinner is a greeter whose SayHello does a fixed amount of CPU work. The
// work is done in chunks, and a call whose caller has gone (its deadline
// passed) stops at the next chunk, as a well-written handler does; the other
// methods are unimplemented.
type spinner struct {
	greeterv1.UnimplementedGreeterServer
	iters atomic.Int64 // iterations of work per call
	chunk int64        // iterations between two looks at the context
	sink  atomic.Uint64
}

func (s *spinner) SayHello(ctx context.Context, req *greeterv1.SayHelloRequest) (*greeterv1.SayHelloResponse, error) {
	x := uint64(len(req.GetName())) + 1
	for left := s.iters.Load(); left > 0; left -= s.chunk {
		if ctx.Err() != nil {
			return nil, status.FromContextError(ctx.Err()).Err()
		}
		x = work(x, min(left, s.chunk))
	}
	s.sink.Add(x)
	return &greeterv1.SayHelloResponse{}, nil
}

// work runs n rounds of xorshift: CPU work the compiler cannot remove.
func work(x uint64, n int64) uint64 {
	for range n {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
	}
	return x
}

// calibrate returns the iterations of work that take d of CPU: the fastest
// of several timings, the one least disturbed by the machine's other load.
func calibrate(d time.Duration) int64 {
	const n = 1 << 20
	best := time.Duration(1<<63 - 1)
	var x uint64 = 1
	for range 7 {
		t := time.Now()
		x = work(x, n)
		best = min(best, time.Since(t))
	}
	if x == 0 {
		best++ // keeps x alive
	}
	return max(int64(float64(n)*float64(d)/float64(best)), 1)
}

// server is a spinner served on loopback behind one protection.
type server struct {
	*spinner
	grpc    *grpc.Server
	addr    string
	limiter *shedding.Limiter // grpckit's, when it protects the server
	bucket  *bucket           // the token bucket, when it protects the server
}

// bucket is a token bucket whose rate setRate replaces, as a person would
// retune it to the capacity just measured.
type bucket struct {
	tb atomic.Pointer[ratelimit.TokenBucket]
}

func (b *bucket) Reserve(key string, wait time.Duration) (time.Duration, bool) {
	return b.tb.Load().Reserve(key, wait)
}

// setRate sets the bucket to capacity calls per second, with a burst of
// 20 ms of them: enough for Poisson arrivals at the capacity, short against
// the 1 s deadline.
func (b *bucket) setRate(capacity float64) error {
	tb, err := ratelimit.NewTokenBucket(rate.Limit(capacity), max(int(capacity/50), 1))
	if err != nil {
		return err
	}
	b.tb.Store(tb)
	return nil
}

// serve starts a spinner doing iters of work per call behind protection;
// capacity is the measured capacity, in calls per second, that the token
// bucket is set to.
func serve(protection string, iters, chunk int64, capacity float64) (*server, error) {
	s := &server{spinner: &spinner{chunk: chunk}}
	s.iters.Store(iters)
	var opts []grpc.ServerOption
	switch protection {
	case None:
	case TokenBucket:
		s.bucket = &bucket{}
		if err := s.bucket.setRate(capacity); err != nil {
			return nil, err
		}
		opts = append(opts, grpc.UnaryInterceptor(ratelimit.UnaryServerInterceptor(s.bucket)))
	case AegisBBR:
		opts = append(opts, grpc.UnaryInterceptor(bbrInterceptor(bbr.NewLimiter())))
	case Grpckit:
		s.limiter = shedding.New()
		opts = append(opts, grpc.UnaryInterceptor(shedding.UnaryServerInterceptor(s.limiter)))
	default:
		return nil, errors.New("overload: unknown protection " + protection)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.grpc = grpc.NewServer(opts...)
	greeterv1.RegisterGreeterServer(s.grpc, s.spinner)
	s.addr = lis.Addr().String()
	go func() { _ = s.grpc.Serve(lis) }()
	return s, nil
}

// bbrInterceptor sheds with aegis's BBR limiter as kratos's own middleware
// does, failing a shed call with codes.ResourceExhausted.
func bbrInterceptor(l *bbr.BBR) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		done, err := l.Allow()
		if err != nil {
			return nil, status.Errorf(codes.ResourceExhausted, "aegis bbr: %s: %v", info.FullMethod, err)
		}
		resp, err := h(ctx, req)
		done(aegisrl.DoneInfo{Err: err})
		return resp, err
	}
}
