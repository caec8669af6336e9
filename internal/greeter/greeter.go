// Package greeter implements the greeter.v1.Greeter service for grpckit's
// tests, examples and demo. Its replies name the instance that answered, and
// a test can make it slow or failing while it runs.
package greeter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	greeterv1 "github.com/grpckit/grpckit/proto/greeter/v1"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

// Server implements greeterv1.GreeterServer. Its methods are safe for
// concurrent use.
type Server struct {
	greeterv1.UnimplementedGreeterServer

	inst  kitresolver.Instance
	delay atomic.Int64  // time.Duration added to every call
	fail  atomic.Uint32 // codes.Code returned by every call; OK for none
	work  atomic.Int64  // iterations of CPU work done by every call
	calls atomic.Int64
	sink  atomic.Uint64 // keeps the work's result alive
}

// New returns a Server that answers as inst.
func New(inst kitresolver.Instance) *Server { return &Server{inst: inst} }

// Instance returns the instance the server answers as.
func (s *Server) Instance() kitresolver.Instance { return s.inst }

// SetDelay makes every later call wait d before answering (0 for none).
func (s *Server) SetDelay(d time.Duration) { s.delay.Store(int64(d)) }

// SetWork makes every later call do about d of CPU work before answering (0
// for none), as a CPU-bound handler does: unlike SetDelay, the work needs a
// CPU, so calls beyond what the machine's CPUs serve queue up. A call whose
// caller has gone stops at the next 50 µs or so of work.
func (s *Server) SetWork(d time.Duration) {
	var n int64
	if d > 0 {
		n = iterationsFor(d)
	}
	s.work.Store(n)
}

// workChunk is the iterations done between two looks at the context.
const workChunk = 1 << 14

// work runs n rounds of xorshift: CPU work the compiler cannot remove.
func work(x uint64, n int64) uint64 {
	for range n {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
	}
	return x
}

// iterationsFor returns the iterations of work that take d of CPU: the
// fastest of several timings, the one least disturbed by other load.
func iterationsFor(d time.Duration) int64 {
	const n = 1 << 18
	best := time.Duration(1<<63 - 1)
	x := uint64(1)
	for range 5 {
		t := time.Now()
		x = work(x, n)
		best = min(best, time.Since(t))
	}
	if x == 0 {
		best++ // keeps x alive
	}
	return max(int64(float64(n)*float64(d)/float64(max(best, 1))), 1)
}

// SetFailure makes every later call fail with code (codes.OK for none).
func (s *Server) SetFailure(code codes.Code) { s.fail.Store(uint32(code)) }

// Calls returns how many calls the server has received.
func (s *Server) Calls() int64 { return s.calls.Load() }

// enter counts a call, applies the delay and the work and returns the configured failure.
func (s *Server) enter(ctx context.Context) error {
	s.calls.Add(1)
	if d := time.Duration(s.delay.Load()); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		}
	}
	if left := s.work.Load(); left > 0 {
		x := uint64(left)
		for ; left > 0; left -= workChunk {
			if ctx.Err() != nil {
				return status.FromContextError(ctx.Err()).Err()
			}
			x = work(x, min(left, workChunk))
		}
		s.sink.Add(x)
	}
	if c := codes.Code(s.fail.Load()); c != codes.OK {
		return status.Errorf(c, "greeter %s: failing on purpose", s.inst.ID)
	}
	return nil
}

func (s *Server) greeting(name string) *greeterv1.Greeting {
	return &greeterv1.Greeting{
		Message:    fmt.Sprintf("Hello, %s!", name),
		InstanceId: s.inst.ID,
		Addr:       s.inst.Addr,
		Zone:       s.inst.Zone,
	}
}

// SayHello answers one request.
func (s *Server) SayHello(ctx context.Context, req *greeterv1.SayHelloRequest) (*greeterv1.SayHelloResponse, error) {
	if err := s.enter(ctx); err != nil {
		return nil, err
	}
	return &greeterv1.SayHelloResponse{Greeting: s.greeting(req.GetName())}, nil
}

// SayHelloStream sends req.Count greetings.
func (s *Server) SayHelloStream(req *greeterv1.SayHelloStreamRequest, stream grpc.ServerStreamingServer[greeterv1.SayHelloStreamResponse]) error {
	if err := s.enter(stream.Context()); err != nil {
		return err
	}
	for i := range max(req.GetCount(), 1) {
		if err := stream.Send(&greeterv1.SayHelloStreamResponse{Greeting: s.greeting(req.GetName()), Index: i}); err != nil {
			return err
		}
	}
	return nil
}

// SayHelloClientStream greets every name received in one reply.
func (s *Server) SayHelloClientStream(stream grpc.ClientStreamingServer[greeterv1.SayHelloClientStreamRequest, greeterv1.SayHelloClientStreamResponse]) error {
	if err := s.enter(stream.Context()); err != nil {
		return err
	}
	var names []string
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return stream.SendAndClose(&greeterv1.SayHelloClientStreamResponse{
				Greeting:      s.greeting(fmt.Sprint(names)),
				NamesReceived: uint32(len(names)),
			})
		}
		if err != nil {
			return err
		}
		names = append(names, req.GetName())
	}
}

// SayHelloBidi answers each request as it arrives.
func (s *Server) SayHelloBidi(stream grpc.BidiStreamingServer[greeterv1.SayHelloBidiRequest, greeterv1.SayHelloBidiResponse]) error {
	if err := s.enter(stream.Context()); err != nil {
		return err
	}
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := stream.Send(&greeterv1.SayHelloBidiResponse{Greeting: s.greeting(req.GetName())}); err != nil {
			return err
		}
	}
}

// Running is a greeter served on a loopback port, with grpc.health.v1.
type Running struct {
	*Server
	GRPC   *grpc.Server
	Health *health.Server
	Addr   string
}

// Serve starts a greeter on a free 127.0.0.1 port. inst.Addr is set to the
// port taken and inst.ID defaults to it. The health service reports SERVING
// for "" and "greeter.v1.Greeter". Stop it with Stop.
func Serve(inst kitresolver.Instance, opts ...grpc.ServerOption) (*Running, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	inst.Addr = lis.Addr().String()
	if inst.ID == "" {
		inst.ID = inst.Addr
	}
	r := &Running{Server: New(inst), GRPC: grpc.NewServer(opts...), Health: health.NewServer(), Addr: inst.Addr}
	greeterv1.RegisterGreeterServer(r.GRPC, r.Server)
	healthpb.RegisterHealthServer(r.GRPC, r.Health)
	r.Health.SetServingStatus(greeterv1.Greeter_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	go r.GRPC.Serve(lis)
	return r, nil
}

// Start is Serve for a test: it fails the test on error and stops the server
// at cleanup.
func Start(t testing.TB, inst kitresolver.Instance, opts ...grpc.ServerOption) *Running {
	t.Helper()
	r, err := Serve(inst, opts...)
	if err != nil {
		t.Fatalf("greeter: %v", err)
	}
	t.Cleanup(r.Stop)
	return r
}

// Stop stops the server at once, closing its connections. It is idempotent.
func (r *Running) Stop() {
	r.Health.Shutdown()
	r.GRPC.Stop()
}

// Before returns server options that call f with the context of every call,
// unary and streaming, before its handler runs. Options given after them
// run inside.
func Before(f func(ctx context.Context)) []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			f(ctx)
			return h(ctx, req)
		}),
		grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			f(ss.Context())
			return h(srv, ss)
		}),
	}
}
