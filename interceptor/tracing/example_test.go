package tracing_test

import (
	"context"
	"fmt"
	"log"
	"slices"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/grpckit/grpckit/interceptor/tracing"
	"github.com/grpckit/grpckit/internal/greeter"
	greeterv1 "github.com/grpckit/grpckit/proto/greeter/v1"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

func Example() {
	// A program would call tracing.Setup(ctx, "greeter") once and use the
	// global provider; here an in-memory recorder shows the spans.
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	opts := []tracing.Option{tracing.WithTracerProvider(tp), tracing.WithPropagators(w3c)}

	srv, err := greeter.Serve(kitresolver.Instance{ID: "a"}, tracing.ServerOptions(opts...)...)
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Stop()
	cc, err := grpc.NewClient(srv.Addr,
		append(tracing.DialOptions(opts...), grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		log.Fatal(err)
	}
	defer func() { _ = cc.Close() }()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := greeterv1.NewGreeterClient(cc).SayHello(ctx, &greeterv1.SayHelloRequest{Name: "ann"}); err != nil {
		log.Fatal(err)
	}
	for len(rec.Ended()) < 2 && ctx.Err() == nil { // the server ends its span after replying
		time.Sleep(time.Millisecond)
	}
	var spans []string
	for _, s := range rec.Ended() {
		spans = append(spans, fmt.Sprintf("%s %s", s.SpanKind(), s.Name()))
	}
	slices.Sort(spans)
	for _, s := range spans {
		fmt.Println(s)
	}
	// Output:
	// client greeter.v1.Greeter/SayHello
	// server greeter.v1.Greeter/SayHello
}
