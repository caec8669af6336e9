package breaker_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
	"google.golang.org/grpc/status"

	"github.com/grpckit/grpckit/interceptor/breaker"
	greeterv1 "github.com/grpckit/grpckit/proto/greeter/v1"
)

// scripted is a greeter whose answer the request's name chooses:
//
//	"ok"          answer (an empty reply)
//	"big"         answer with a reply of more than one byte
//	"code:N"      fail with status code N
//	"hang"        wait for the caller to give up
//	"hold:N"      wait for release (or the caller), then fail with code N
//	"header"      (streams) send the header, then hang
//
// Streams send Count messages first.
type scripted struct {
	greeterv1.UnimplementedGreeterServer
	release chan struct{}
}

func (s *scripted) answer(ctx context.Context, name string) error {
	verb, arg, _ := strings.Cut(name, ":")
	switch verb {
	case "ok", "big":
		return nil
	case "code":
		n, _ := strconv.Atoi(arg)
		return status.Error(codes.Code(n), "scripted failure")
	case "hold":
		select {
		case <-s.release:
		case <-ctx.Done():
			return ctx.Err()
		}
		n, _ := strconv.Atoi(arg)
		return status.Error(codes.Code(n), "scripted failure after a hold")
	}
	<-ctx.Done() // hang, header
	return ctx.Err()
}

func (s *scripted) SayHello(ctx context.Context, r *greeterv1.SayHelloRequest) (*greeterv1.SayHelloResponse, error) {
	if err := s.answer(ctx, r.GetName()); err != nil {
		return nil, err
	}
	if r.GetName() == "big" {
		return &greeterv1.SayHelloResponse{Greeting: &greeterv1.Greeting{Message: "a reply of some bytes"}}, nil
	}
	return &greeterv1.SayHelloResponse{}, nil
}

func (s *scripted) SayHelloStream(r *greeterv1.SayHelloStreamRequest, st grpc.ServerStreamingServer[greeterv1.SayHelloStreamResponse]) error {
	if r.GetName() == "header" {
		if err := st.SendHeader(metadata.Pairs("k", "v")); err != nil {
			return err
		}
	}
	for i := range r.GetCount() {
		if err := st.Send(&greeterv1.SayHelloStreamResponse{Index: i}); err != nil {
			return err
		}
	}
	return s.answer(st.Context(), r.GetName())
}

func (s *scripted) SayHelloBidi(st grpc.BidiStreamingServer[greeterv1.SayHelloBidiRequest, greeterv1.SayHelloBidiResponse]) error {
	for {
		r, err := st.Recv()
		if err != nil {
			return nil
		}
		if err := st.Send(&greeterv1.SayHelloBidiResponse{}); err != nil {
			return err
		}
		if err := s.answer(st.Context(), r.GetName()); err != nil {
			return err
		}
	}
}

// startScripted serves a scripted greeter on loopback. Closing release
// lets every "hold" call go on.
func startScripted(t *testing.T) (addr string, release chan struct{}) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &scripted{release: make(chan struct{})}
	s := grpc.NewServer()
	greeterv1.RegisterGreeterServer(s, srv)
	go s.Serve(lis)
	t.Cleanup(s.Stop)
	return lis.Addr().String(), srv.release
}

// dialResolver connects through g to whatever r says.
func dialResolver(t *testing.T, r *manual.Resolver, g *breaker.Group) greeterv1.GreeterClient {
	t.Helper()
	cc, err := grpc.NewClient(r.Scheme()+":///greeter",
		grpc.WithResolvers(r),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithChainUnaryInterceptor(g.UnaryClientInterceptor()),
		grpc.WithChainStreamInterceptor(g.StreamClientInterceptor()),
	)
	if err != nil {
		t.Fatalf("grpc.NewClient: %v", err)
	}
	t.Cleanup(func() { cc.Close() })
	return greeterv1.NewGreeterClient(cc)
}

// failingCreds are per-RPC credentials that always fail.
type failingCreds struct{}

func (failingCreds) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return nil, errors.New("no token")
}
func (failingCreds) RequireTransportSecurity() bool { return false }

// unmarshalFails is the proto codec, under its name, with every received
// message failing to unmarshal on the client.
type unmarshalFails struct{}

func (unmarshalFails) Name() string { return "proto" }
func (unmarshalFails) Marshal(v any) (mem.BufferSlice, error) {
	return encoding.GetCodecV2("proto").Marshal(v)
}
func (unmarshalFails) Unmarshal(mem.BufferSlice, any) error {
	return errors.New("this client cannot read the reply")
}

// outcome is what one call must leave in its breaker's counts.
type outcome int

const (
	none     outcome = iota // not even admitted
	success                 // counted as a success
	failure                 // counted as a failure
	excluded                // admitted, then not counted
)

func (o outcome) String() string {
	return [...]string{"none", "success", "failure", "excluded"}[o]
}

func outcomeOf(c breaker.Counts) (outcome, bool) {
	switch {
	case c.TotalSuccesses+c.TotalFailures+c.TotalExclusions > 1:
		return 0, false
	case c.TotalSuccesses == 1:
		return success, true
	case c.TotalFailures == 1:
		return failure, true
	case c.TotalExclusions == 1:
		return excluded, true
	}
	return none, c.Requests == 0
}

// tableEnv is what a row's call may use.
type tableEnv struct {
	t       *testing.T
	ctx     context.Context // the test's
	client  greeterv1.GreeterClient
	empty   greeterv1.GreeterClient // its resolver returned no endpoints
	broken  greeterv1.GreeterClient // its resolver failed
	refused greeterv1.GreeterClient // its one endpoint refuses connections
	release chan struct{}
	window  time.Duration
}

// afterWindows waits until the counting window has ended a few times over
// since start, then lets held calls go on.
func (e *tableEnv) afterWindows(start time.Time) {
	for time.Since(start) < 3*e.window {
		time.Sleep(e.window)
	}
	close(e.release)
}

func unaryCall(c greeterv1.GreeterClient, name string, opts ...grpc.CallOption) func(context.Context) error {
	return func(ctx context.Context) error {
		_, err := c.SayHello(ctx, &greeterv1.SayHelloRequest{Name: name}, opts...)
		return err
	}
}

func withTimeout(d time.Duration, call func(context.Context) error) func(context.Context) error {
	return func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		return call(ctx)
	}
}

// streamCall opens a server stream that sends count messages before
// answering as name, and reads it to its end.
func streamCall(c greeterv1.GreeterClient, name string, count uint32) func(context.Context) error {
	return func(ctx context.Context) error {
		s, err := c.SayHelloStream(ctx, &greeterv1.SayHelloStreamRequest{Name: name, Count: count})
		if err != nil {
			return err
		}
		return drain(s.Recv)
	}
}

func codeName(c codes.Code) string { return fmt.Sprintf("code:%d", c) }

// TestOutcomeTable runs one call per row, over loopback with a real gRPC
// server, and checks what the call's breaker counted. Only calls that
// reached a backend count; the caller's cancellation never does; calls
// longer than the window still count.
func TestOutcomeTable(t *testing.T) {
	const window = 150 * time.Millisecond
	rows := []struct {
		name string
		want outcome
		call func(e *tableEnv) func(context.Context) error
	}{
		// Unary calls answered by the backend.
		{"unary ok", success, func(e *tableEnv) func(context.Context) error { return unaryCall(e.client, "ok") }},
		{"unary NotFound answer", success, func(e *tableEnv) func(context.Context) error { return unaryCall(e.client, codeName(codes.NotFound)) }},
		{"unary Unavailable answer", failure, func(e *tableEnv) func(context.Context) error { return unaryCall(e.client, codeName(codes.Unavailable)) }},
		{"unary Internal answer", failure, func(e *tableEnv) func(context.Context) error { return unaryCall(e.client, codeName(codes.Internal)) }},
		{"unary ResourceExhausted answer", failure, func(e *tableEnv) func(context.Context) error {
			return unaryCall(e.client, codeName(codes.ResourceExhausted))
		}},
		{"unary DeadlineExceeded answer", failure, func(e *tableEnv) func(context.Context) error {
			return unaryCall(e.client, codeName(codes.DeadlineExceeded))
		}},
		{"unary Canceled answer", excluded, func(e *tableEnv) func(context.Context) error { return unaryCall(e.client, codeName(codes.Canceled)) }},
		{"unary caller deadline after send", failure, func(e *tableEnv) func(context.Context) error {
			return withTimeout(300*time.Millisecond, unaryCall(e.client, "hang"))
		}},
		{"unary cancelled in flight", excluded, func(e *tableEnv) func(context.Context) error {
			return func(ctx context.Context) error {
				ctx, cancel := context.WithCancel(ctx)
				time.AfterFunc(20*time.Millisecond, cancel)
				return unaryCall(e.client, "hang")(ctx)
			}
		}},
		{"unary longer than the window", failure, func(e *tableEnv) func(context.Context) error {
			go e.afterWindows(time.Now())
			return unaryCall(e.client, "hold:"+strconv.Itoa(int(codes.Unavailable)))
		}},
		// Unary calls that never reached a backend.
		{"unary deadline expired before the call", none, func(e *tableEnv) func(context.Context) error {
			return func(ctx context.Context) error {
				ctx, cancel := context.WithDeadline(ctx, time.Now().Add(-time.Second))
				defer cancel()
				return unaryCall(e.client, "ok")(ctx)
			}
		}},
		{"unary cancelled before the call", none, func(e *tableEnv) func(context.Context) error {
			return func(ctx context.Context) error {
				ctx, cancel := context.WithCancel(ctx)
				cancel()
				return unaryCall(e.client, "ok")(ctx)
			}
		}},
		{"unary over MaxCallSendMsgSize", excluded, func(e *tableEnv) func(context.Context) error {
			return unaryCall(e.client, strings.Repeat("x", 100), grpc.MaxCallSendMsgSize(10))
		}},
		{"unary request does not marshal", excluded, func(e *tableEnv) func(context.Context) error {
			return unaryCall(e.client, "\xff")
		}},
		{"unary reply over MaxCallRecvMsgSize", excluded, func(e *tableEnv) func(context.Context) error {
			return unaryCall(e.client, "big", grpc.MaxCallRecvMsgSize(1))
		}},
		{"unary reply does not unmarshal", excluded, func(e *tableEnv) func(context.Context) error {
			return unaryCall(e.client, "ok", grpc.ForceCodecV2(unmarshalFails{}))
		}},
		{"unary per-RPC credentials fail", excluded, func(e *tableEnv) func(context.Context) error {
			return unaryCall(e.client, "ok", grpc.PerRPCCredentials(failingCreds{}))
		}},
		{"unary resolver returned no endpoints", excluded, func(e *tableEnv) func(context.Context) error { return unaryCall(e.empty, "ok") }},
		{"unary resolver error", excluded, func(e *tableEnv) func(context.Context) error { return unaryCall(e.broken, "ok") }},
		{"unary no READY subconn", excluded, func(e *tableEnv) func(context.Context) error { return unaryCall(e.refused, "ok") }},
		{"unary deadline while waiting for a connection", excluded, func(e *tableEnv) func(context.Context) error {
			return withTimeout(50*time.Millisecond, unaryCall(e.empty, "ok", grpc.WaitForReady(true)))
		}},
		// Streams.
		{"stream ends ok", success, func(e *tableEnv) func(context.Context) error { return streamCall(e.client, "ok", 2) }},
		{"stream fails before a message", failure, func(e *tableEnv) func(context.Context) error {
			return streamCall(e.client, codeName(codes.Unavailable), 0)
		}},
		{"stream fails mid-stream", failure, func(e *tableEnv) func(context.Context) error {
			return streamCall(e.client, codeName(codes.Internal), 2)
		}},
		{"stream ends with an answer", success, func(e *tableEnv) func(context.Context) error {
			return streamCall(e.client, codeName(codes.InvalidArgument), 2)
		}},
		{"stream cancelled mid-stream", excluded, func(e *tableEnv) func(context.Context) error {
			return func(ctx context.Context) error {
				ctx, cancel := context.WithCancel(ctx)
				time.AfterFunc(20*time.Millisecond, cancel)
				return streamCall(e.client, "hang", 1)(ctx)
			}
		}},
		{"stream abandoned, then cancelled", excluded, func(e *tableEnv) func(context.Context) error {
			return func(ctx context.Context) error {
				ctx, cancel := context.WithCancel(ctx)
				defer cancel()
				_, err := e.client.SayHelloStream(ctx, &greeterv1.SayHelloStreamRequest{Name: "hang", Count: 1})
				return err
			}
		}},
		{"stream caller deadline mid-stream", failure, func(e *tableEnv) func(context.Context) error {
			return withTimeout(300*time.Millisecond, streamCall(e.client, "hang", 1))
		}},
		{"stream longer than the window", failure, func(e *tableEnv) func(context.Context) error {
			go e.afterWindows(time.Now())
			return streamCall(e.client, "hold:"+strconv.Itoa(int(codes.Unavailable)), 1)
		}},
		{"stream message over MaxCallRecvMsgSize", excluded, func(e *tableEnv) func(context.Context) error {
			return func(ctx context.Context) error {
				s, err := e.client.SayHelloStream(ctx, &greeterv1.SayHelloStreamRequest{Name: "ok", Count: 2}, grpc.MaxCallRecvMsgSize(1))
				if err != nil {
					return err
				}
				return drain(s.Recv)
			}
		}},
		{"stream message does not unmarshal", excluded, func(e *tableEnv) func(context.Context) error {
			return func(ctx context.Context) error {
				s, err := e.client.SayHelloStream(ctx, &greeterv1.SayHelloStreamRequest{Name: "ok", Count: 2}, grpc.ForceCodecV2(unmarshalFails{}))
				if err != nil {
					return err
				}
				return drain(s.Recv)
			}
		}},
		{"stream resolver returned no endpoints", excluded, func(e *tableEnv) func(context.Context) error { return streamCall(e.empty, "ok", 1) }},
		{"stream per-RPC credentials fail", excluded, func(e *tableEnv) func(context.Context) error {
			return func(ctx context.Context) error {
				_, err := e.client.SayHelloStream(ctx, &greeterv1.SayHelloStreamRequest{Name: "ok"}, grpc.PerRPCCredentials(failingCreds{}))
				return err
			}
		}},
		{"bidi request does not marshal", excluded, func(e *tableEnv) func(context.Context) error {
			return func(ctx context.Context) error {
				s, err := e.client.SayHelloBidi(ctx)
				if err != nil {
					return err
				}
				return s.Send(&greeterv1.SayHelloBidiRequest{Name: "\xff"})
			}
		}},
		{"bidi ends ok", success, func(e *tableEnv) func(context.Context) error {
			return func(ctx context.Context) error {
				s, err := e.client.SayHelloBidi(ctx)
				if err != nil {
					return err
				}
				if err := s.Send(&greeterv1.SayHelloBidiRequest{Name: "ok"}); err != nil {
					return err
				}
				if err := s.CloseSend(); err != nil {
					return err
				}
				return drain(s.Recv)
			}
		}},
		{"bidi fails mid-stream", failure, func(e *tableEnv) func(context.Context) error {
			return func(ctx context.Context) error {
				s, err := e.client.SayHelloBidi(ctx)
				if err != nil {
					return err
				}
				if err := s.Send(&greeterv1.SayHelloBidiRequest{Name: codeName(codes.Unavailable)}); err != nil {
					return err
				}
				return drain(s.Recv)
			}
		}},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			addr, release := startScripted(t)
			g := newGroup(t, breaker.WithInterval(window))
			cc, client := dial(t, addr, g)
			// Connected first, so that short deadlines end calls
			// that reached the server, not calls still connecting.
			cc.Connect()
			waitFor(ctx, t, "a connection", func() bool { return cc.GetState() == connectivity.Ready })
			e := &tableEnv{t: t, ctx: ctx, client: client, release: release, window: window}
			e.empty = dialResolver(t, manualWith(t, resolver.State{}, nil), g)
			e.broken = dialResolver(t, manualWith(t, resolver.State{}, errors.New("registry down")), g)
			e.refused = dialResolver(t, manualWith(t, resolver.State{Addresses: []resolver.Address{{Addr: closedPort(t)}}}, nil), g)

			err := row.call(e)(ctx)
			key := service + methodOf(row.name)
			var got outcome
			waitFor(ctx, t, "the call's outcome to be recorded", func() bool {
				c := g.Counts(key)
				o, ok := outcomeOf(c)
				got = o
				return ok && (row.want == none || o != none)
			})
			if got != row.want {
				t.Errorf("call ending in %v counted as %v, want %v (counts %+v)", err, got, row.want, g.Counts(key))
			}
		})
	}
}

func methodOf(row string) string {
	switch {
	case strings.HasPrefix(row, "stream"):
		return "SayHelloStream"
	case strings.HasPrefix(row, "bidi"):
		return "SayHelloBidi"
	}
	return "SayHello"
}

// manualWith returns a resolver that reports s, or err if not nil.
func manualWith(t *testing.T, s resolver.State, err error) *manual.Resolver {
	t.Helper()
	r := manual.NewBuilderWithScheme(fmt.Sprintf("table%d", schemes.Add(1)))
	if err != nil {
		r.BuildCallback = func(_ resolver.Target, cc resolver.ClientConn, _ resolver.BuildOptions) { cc.ReportError(err) }
		return r
	}
	r.InitialState(s)
	return r
}

var schemes atomic.Int64

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	return addr
}
