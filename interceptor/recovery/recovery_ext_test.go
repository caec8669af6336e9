package recovery_test

import (
	"context"
	"errors"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/grpckit/grpckit/interceptor/recovery"
	"github.com/grpckit/grpckit/internal/greeter"
	"github.com/grpckit/grpckit/internal/testutil"
	greeterv1 "github.com/grpckit/grpckit/proto/greeter/v1"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

// secret is the panic value; it must never reach the client.
const secret = "secret-token-0xC0FFEE"

// panicky is a greeter whose handlers panic when asked to greet "panic",
// after sending what came before.
type panicky struct{ *greeter.Server }

func (p *panicky) SayHello(ctx context.Context, req *greeterv1.SayHelloRequest) (*greeterv1.SayHelloResponse, error) {
	if req.GetName() == "panic" {
		panic(secret)
	}
	if req.GetName() == "goexit" {
		runtime.Goexit()
	}
	return p.Server.SayHello(ctx, req)
}

func (p *panicky) SayHelloStream(req *greeterv1.SayHelloStreamRequest, s grpc.ServerStreamingServer[greeterv1.SayHelloStreamResponse]) error {
	if req.GetName() != "panic" && req.GetName() != "goexit" {
		return p.Server.SayHelloStream(req, s)
	}
	if err := s.Send(&greeterv1.SayHelloStreamResponse{}); err != nil {
		return err
	}
	if req.GetName() == "goexit" {
		runtime.Goexit()
	}
	panic(secret)
}

func (p *panicky) SayHelloClientStream(s grpc.ClientStreamingServer[greeterv1.SayHelloClientStreamRequest, greeterv1.SayHelloClientStreamResponse]) error {
	var n uint32
	for {
		req, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return s.SendAndClose(&greeterv1.SayHelloClientStreamResponse{NamesReceived: n})
		}
		if err != nil {
			return err
		}
		if req.GetName() == "panic" {
			panic(secret)
		}
		if req.GetName() == "goexit" {
			runtime.Goexit()
		}
		n++
	}
}

func (p *panicky) SayHelloBidi(s grpc.BidiStreamingServer[greeterv1.SayHelloBidiRequest, greeterv1.SayHelloBidiResponse]) error {
	for {
		req, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if req.GetName() == "panic" {
			panic(secret)
		}
		if req.GetName() == "goexit" {
			runtime.Goexit()
		}
		if err := s.Send(&greeterv1.SayHelloBidiResponse{}); err != nil {
			return err
		}
	}
}

// serve starts a panicky greeter behind the recovery interceptors and
// returns a client of it.
func serve(t *testing.T, opts ...recovery.Option) greeterv1.GreeterClient {
	t.Helper()
	return serveWith(t,
		grpc.ChainUnaryInterceptor(recovery.UnaryServerInterceptor(opts...)),
		grpc.ChainStreamInterceptor(recovery.StreamServerInterceptor(opts...)))
}

// serveWith is serve with the server options given.
func serveWith(t *testing.T, sopts ...grpc.ServerOption) greeterv1.GreeterClient {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer(sopts...)
	greeterv1.RegisterGreeterServer(s, &panicky{greeter.New(kitresolver.Instance{ID: "p"})})
	go func() { _ = s.Serve(lis) }()
	t.Cleanup(s.Stop)
	cc, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return greeterv1.NewGreeterClient(cc)
}

// kinds calls each RPC kind greeting name, reading every reply.
var kinds = []struct {
	name   string
	method string
	call   func(ctx context.Context, c greeterv1.GreeterClient, name string) error
}{
	{"unary", "/greeter.v1.Greeter/SayHello", func(ctx context.Context, c greeterv1.GreeterClient, name string) error {
		_, err := c.SayHello(ctx, &greeterv1.SayHelloRequest{Name: name})
		return err
	}},
	{"server stream", "/greeter.v1.Greeter/SayHelloStream", callServerStream},
	{"client stream", "/greeter.v1.Greeter/SayHelloClientStream", callClientStream},
	{"bidi", "/greeter.v1.Greeter/SayHelloBidi", callBidi},
}

func callServerStream(ctx context.Context, c greeterv1.GreeterClient, name string) error {
	s, err := c.SayHelloStream(ctx, &greeterv1.SayHelloStreamRequest{Name: name, Count: 2})
	if err != nil {
		return err
	}
	for {
		if _, err := s.Recv(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

func callClientStream(ctx context.Context, c greeterv1.GreeterClient, name string) error {
	s, err := c.SayHelloClientStream(ctx)
	if err != nil {
		return err
	}
	for _, n := range []string{"ann", name} {
		if err := s.Send(&greeterv1.SayHelloClientStreamRequest{Name: n}); err != nil {
			break // the status comes with CloseAndRecv
		}
	}
	_, err = s.CloseAndRecv()
	return err
}

func callBidi(ctx context.Context, c greeterv1.GreeterClient, name string) error {
	s, err := c.SayHelloBidi(ctx)
	if err != nil {
		return err
	}
	for _, n := range []string{"ann", name} {
		if err := s.Send(&greeterv1.SayHelloBidiRequest{Name: n}); err != nil {
			break // the status comes with Recv
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
}

type outcome struct {
	Code    codes.Code
	Message string
}

func outcomeOf(err error) outcome {
	s := status.Convert(err)
	return outcome{s.Code(), s.Message()}
}

// TestPanicBecomesInternal checks every RPC kind: a panic answers the call
// with Internal and a generic message, the panic and its stack are logged,
// and the server keeps serving.
func TestPanicBecomesInternal(t *testing.T) {
	client := serve(t)
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), testutil.DefaultTimeout)
			defer cancel()
			err := k.call(ctx, client, "panic")
			want := outcome{codes.Internal, "internal error"}
			if diff := cmp.Diff(want, outcomeOf(err)); diff != "" {
				t.Errorf("panicking call (-want +got):\n%s", diff)
			}
			if err := k.call(ctx, client, "ann"); err != nil {
				t.Errorf("call after the panic: %v", err)
			}
			checkLogged(t, k.method)
		})
	}
}

// TestGoexitBecomesInternal checks every RPC kind: a handler that calls
// runtime.Goexit is answered like a panic, the handler function is told
// (ErrGoexit), the client does not wait for its deadline, and the server
// keeps serving.
func TestGoexitBecomesInternal(t *testing.T) {
	var seen atomic.Int64
	client := serve(t, recovery.WithHandler(func(_ context.Context, p *recovery.Panic) error {
		if errors.Is(p.Value.(error), recovery.ErrGoexit) {
			seen.Add(1)
		}
		return nil
	}))
	for i, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), testutil.DefaultTimeout)
			defer cancel()
			err := k.call(ctx, client, "goexit")
			want := outcome{codes.Internal, "internal error"}
			if diff := cmp.Diff(want, outcomeOf(err)); diff != "" {
				t.Errorf("call whose handler called Goexit (-want +got):\n%s", diff)
			}
			if got := seen.Load(); got != int64(i+1) {
				t.Errorf("handler function told of %d Goexits, want %d", got, i+1)
			}
			if err := k.call(ctx, client, "ann"); err != nil {
				t.Errorf("call after the Goexit: %v", err)
			}
		})
	}
}

// checkLogged polls the error log for the method's panic, with its value
// and the stack of the handler that panicked.
func checkLogged(t *testing.T, method string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testutil.DefaultTimeout)
	defer cancel()
	for {
		for _, entry := range strings.Split(errorLog.String(), "recovery: ") {
			if strings.HasPrefix(entry, method+" panicked: "+secret) &&
				strings.Contains(entry, "goroutine ") && strings.Contains(entry, "(*panicky)") {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no log of %s's panic with its stack in:\n%s", method, errorLog.String())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// TestWithHandler checks every RPC kind with a custom handler: it sees the
// method, value and stack, and its error is what the client gets; a nil
// error falls back to Internal.
func TestWithHandler(t *testing.T) {
	var mu sync.Mutex
	var got []string
	handler := func(_ context.Context, p *recovery.Panic) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, p.Method+" "+p.Value.(string)+" "+stackMentions(p.Stack, "(*panicky)"))
		if strings.HasSuffix(p.Method, "Stream") {
			return nil
		}
		return status.Error(codes.Unavailable, "try again later")
	}
	client := serve(t, recovery.WithHandler(handler))
	var want []string
	for _, k := range kinds {
		ctx, cancel := context.WithTimeout(context.Background(), testutil.DefaultTimeout)
		err := k.call(ctx, client, "panic")
		cancel()
		w := outcome{codes.Unavailable, "try again later"}
		if strings.HasSuffix(k.method, "Stream") {
			w = outcome{codes.Internal, "internal error"}
		}
		if diff := cmp.Diff(w, outcomeOf(err)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", k.name, diff)
		}
		want = append(want, k.method+" "+secret+" yes")
	}
	mu.Lock()
	defer mu.Unlock()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("panics the handler saw (-want +got):\n%s", diff)
	}
}

func stackMentions(stack []byte, fn string) string {
	if strings.Contains(string(stack), fn) {
		return "yes"
	}
	return "no"
}

// TestWrap checks every RPC kind under WrapUnary and WrapStream: a panic in
// the wrapped interceptor and one in the handler both become Internal, and
// the wrapped interceptor still runs on good calls.
func TestWrap(t *testing.T) {
	var ran atomic.Int64
	const innerPanic = "inner-panic"
	unary := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ran.Add(1)
		if len(metadata.ValueFromIncomingContext(ctx, innerPanic)) > 0 {
			panic(secret)
		}
		return handler(ctx, req)
	}
	stream := func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ran.Add(1)
		if len(metadata.ValueFromIncomingContext(ss.Context(), innerPanic)) > 0 {
			panic(secret)
		}
		return handler(srv, ss)
	}
	client := serveWith(t,
		grpc.ChainUnaryInterceptor(recovery.WrapUnary(unary)),
		grpc.ChainStreamInterceptor(recovery.WrapStream(stream)))
	want := outcome{codes.Internal, "internal error"}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), testutil.DefaultTimeout)
			defer cancel()
			before := ran.Load()
			if err := k.call(ctx, client, "ann"); err != nil {
				t.Fatalf("good call: %v", err)
			}
			if ran.Load() != before+1 {
				t.Fatal("the wrapped interceptor did not run")
			}
			if diff := cmp.Diff(want, outcomeOf(k.call(ctx, client, "panic"))); diff != "" {
				t.Errorf("handler panic (-want +got):\n%s", diff)
			}
			inner := metadata.AppendToOutgoingContext(ctx, innerPanic, "1")
			if diff := cmp.Diff(want, outcomeOf(k.call(inner, client, "ann"))); diff != "" {
				t.Errorf("interceptor panic (-want +got):\n%s", diff)
			}
		})
	}
}

// TestNilOptionIgnored: a nil Option, as a user's conditional option list may
// hold, is ignored by every constructor instead of panicking at start-up.
func TestNilOptionIgnored(t *testing.T) {
	var none recovery.Option
	mk := map[string]func(){
		"UnaryServerInterceptor":  func() { recovery.UnaryServerInterceptor(none) },
		"StreamServerInterceptor": func() { recovery.StreamServerInterceptor(none) },
		"WrapUnary": func() {
			recovery.WrapUnary(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
				return h(ctx, req)
			}, none)
		},
		"WrapStream": func() {
			recovery.WrapStream(func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
				return h(srv, ss)
			}, none)
		},
	}
	for name, f := range mk {
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("%s(nil option) panicked: %v", name, r)
				}
			}()
			f()
		}()
	}
}
