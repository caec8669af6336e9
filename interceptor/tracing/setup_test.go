package tracing

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/grpckit/grpckit/internal/testutil"
)

func TestExporterNames(t *testing.T) {
	cases := []struct {
		env     string
		want    []string
		wantErr string
	}{
		{env: "", want: []string{"otlp"}},
		{env: "otlp", want: []string{"otlp"}},
		{env: " Console , otlp,console", want: []string{"console", "otlp"}},
		{env: "none", want: nil},
		{env: "none,otlp", wantErr: "mixes none"},
		{env: "zipkin", wantErr: `unknown exporter "zipkin"`},
	}
	for _, c := range cases {
		t.Run(c.env, func(t *testing.T) {
			t.Setenv("OTEL_TRACES_EXPORTER", c.env)
			got, err := exporterNames()
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) || !strings.HasPrefix(err.Error(), "tracing: ") {
					t.Fatalf("exporterNames() error = %v, want one containing %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("exporterNames() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestOTLPProtocol(t *testing.T) {
	cases := []struct{ traces, all, want string }{
		{"", "", "http/protobuf"},
		{"", "grpc", "grpc"},
		{"http/protobuf", "grpc", "http/protobuf"},
	}
	for _, c := range cases {
		t.Setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", c.traces)
		t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", c.all)
		if got := otlpProtocol("TRACES"); got != c.want {
			t.Errorf("otlpProtocol(TRACES) with %q, %q = %q, want %q", c.traces, c.all, got, c.want)
		}
	}
}

// restoreGlobals puts back the global provider and propagator after a test
// that calls Setup.
func restoreGlobals(t *testing.T) {
	tp, prop := otel.GetTracerProvider(), otel.GetTextMapPropagator()
	t.Cleanup(func() {
		if otel.GetTracerProvider() != tp {
			otel.SetTracerProvider(tp)
		}
		if otel.GetTextMapPropagator() != prop {
			otel.SetTextMapPropagator(prop)
		}
	})
}

// exported is what a collector received: "service.name/span name".
type collector struct{ got *testutil.Latest[string] }

func (c collector) record(req *coltracepb.ExportTraceServiceRequest) {
	for _, rs := range req.GetResourceSpans() {
		service := ""
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.GetKey() == "service.name" {
				service = kv.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				c.got.Send(service + "/" + s.GetName())
			}
		}
	}
}

type grpcCollector struct {
	coltracepb.UnimplementedTraceServiceServer
	collector
}

func (c grpcCollector) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	c.record(req)
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

// startCollector serves OTLP traces on loopback with protocol and returns
// its endpoint URL.
func startCollector(t *testing.T, protocol string, c collector) string {
	if protocol == "grpc" {
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		s := grpc.NewServer()
		coltracepb.RegisterTraceServiceServer(s, grpcCollector{collector: c})
		go func() { _ = s.Serve(lis) }()
		t.Cleanup(s.Stop)
		return "http://" + lis.Addr().String()
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req coltracepb.ExportTraceServiceRequest
		if r.URL.Path != "/v1/traces" || proto.Unmarshal(body, &req) != nil {
			http.Error(w, "bad export", http.StatusBadRequest)
			return
		}
		c.record(&req)
		resp, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(resp)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestSetupExportsOTLP runs Setup against a collector on loopback for both
// OTLP protocols and checks a span arrives with the service's name.
func TestSetupExportsOTLP(t *testing.T) {
	cases := []struct{ protocol, envService, want string }{
		{"grpc", "", "greeter/op"},
		{"http/protobuf", "", "greeter/op"},
		{"grpc", "from-env", "from-env/op"},
	}
	for _, c := range cases {
		t.Run(c.protocol+"/"+c.envService, func(t *testing.T) {
			restoreGlobals(t)
			col := collector{testutil.NewLatest[string](8)}
			t.Setenv("OTEL_TRACES_EXPORTER", "")
			t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", c.protocol)
			t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", startCollector(t, c.protocol, col))
			t.Setenv("OTEL_SERVICE_NAME", c.envService)
			ctx, cancel := context.WithTimeout(context.Background(), testutil.DefaultTimeout)
			defer cancel()
			shutdown, err := Setup(ctx, "greeter")
			if err != nil {
				t.Fatal(err)
			}
			_, span := otel.Tracer("test").Start(ctx, "op")
			span.End()
			if err := shutdown(ctx); err != nil {
				t.Fatalf("shutdown: %v", err)
			}
			got, err := col.got.Receive(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Errorf("collector got %q, want %q", got, c.want)
			}
		})
	}
}

// TestSetupConsole checks the console exporter writes ended spans to
// standard output, and that the SDK takes the sampler from the environment.
func TestSetupConsole(t *testing.T) {
	for _, c := range []struct {
		sampler string
		want    bool
	}{{"", true}, {"always_off", false}, {"parentbased_always_off", false}} {
		t.Run(c.sampler, func(t *testing.T) {
			t.Setenv("OTEL_TRACES_SAMPLER", c.sampler)
			if got := consoleShows(t, "console-op"); got != c.want {
				t.Errorf("with OTEL_TRACES_SAMPLER=%q the console shows the span: %v, want %v", c.sampler, got, c.want)
			}
		})
	}
}

// consoleShows runs Setup with the console exporter, ends a span named name,
// and reports whether standard output then shows it.
func consoleShows(t *testing.T, name string) bool {
	restoreGlobals(t)
	t.Setenv("OTEL_TRACES_EXPORTER", "console")
	out, err := os.CreateTemp(t.TempDir(), "stdout")
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = out
	defer func() { os.Stdout = stdout }()
	ctx, cancel := context.WithTimeout(context.Background(), testutil.DefaultTimeout)
	defer cancel()
	shutdown, err := Setup(ctx, "greeter")
	if err != nil {
		t.Fatal(err)
	}
	_, span := otel.Tracer("test").Start(ctx, name)
	span.End()
	if err := shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	written, err := os.ReadFile(out.Name())
	if err != nil {
		t.Fatal(err)
	}
	return strings.Contains(string(written), `"Name":"`+name+`"`)
}

// TestSetupNone checks that with no exporter Setup installs a no-op
// provider but still the W3C propagators.
func TestSetupNone(t *testing.T) {
	for _, env := range [][2]string{{"OTEL_TRACES_EXPORTER", "none"}, {"OTEL_SDK_DISABLED", "true"}} {
		t.Run(env[0], func(t *testing.T) {
			restoreGlobals(t)
			t.Setenv(env[0], env[1])
			ctx, cancel := context.WithTimeout(context.Background(), testutil.DefaultTimeout)
			defer cancel()
			shutdown, err := Setup(ctx, "greeter")
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = shutdown(ctx) }()
			if _, ok := otel.GetTracerProvider().(noop.TracerProvider); !ok {
				t.Errorf("global provider is %T, want noop.TracerProvider", otel.GetTracerProvider())
			}
			sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}})
			carrier := propagation.MapCarrier{}
			otel.GetTextMapPropagator().Inject(trace.ContextWithSpanContext(ctx, sc), carrier)
			if want := "00-01000000000000000000000000000000-0200000000000000-00"; carrier["traceparent"] != want {
				t.Errorf("traceparent = %q, want %q", carrier["traceparent"], want)
			}
		})
	}
}

// TestSetupRefusesBadConfig checks configuration errors come from Setup and
// leave the globals alone.
func TestSetupRefusesBadConfig(t *testing.T) {
	cases := []struct {
		name, service, exporter, protocol, wantErr string
	}{
		{"empty service", "", "otlp", "grpc", "tracing: empty service name"},
		{"unknown exporter", "greeter", "jaeger", "grpc", `unknown exporter "jaeger"`},
		{"unknown protocol", "greeter", "console,otlp", "http/json", `OTLP protocol "http/json" not supported`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			restoreGlobals(t)
			t.Setenv("OTEL_TRACES_EXPORTER", c.exporter)
			t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", c.protocol)
			before := otel.GetTracerProvider()
			ctx, cancel := context.WithTimeout(context.Background(), testutil.DefaultTimeout)
			defer cancel()
			_, err := Setup(ctx, c.service)
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("Setup error = %v, want one containing %q", err, c.wantErr)
			}
			if otel.GetTracerProvider() != before {
				t.Errorf("Setup changed the global provider despite the error")
			}
		})
	}
}

// TestSetupDisabledWins: with OTEL_SDK_DISABLED=true the rest of the
// environment is not read, so exporters, protocols and resource attributes
// Setup would refuse do not make it fail; the provider is a no-op.
func TestSetupDisabledWins(t *testing.T) {
	for _, v := range []string{"true", "TRUE", " True "} {
		t.Run(v, func(t *testing.T) {
			restoreGlobals(t)
			t.Setenv("OTEL_SDK_DISABLED", v)
			t.Setenv("OTEL_TRACES_EXPORTER", "zipkin")
			t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")
			t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "broken")
			ctx, cancel := context.WithTimeout(context.Background(), testutil.DefaultTimeout)
			defer cancel()
			shutdown, err := Setup(ctx, "greeter")
			if err != nil {
				t.Fatalf("Setup with the SDK disabled: %v", err)
			}
			defer func() { _ = shutdown(ctx) }()
			if _, ok := otel.GetTracerProvider().(noop.TracerProvider); !ok {
				t.Errorf("global provider is %T, want noop.TracerProvider", otel.GetTracerProvider())
			}
		})
	}
	t.Run("not true", func(t *testing.T) {
		for _, v := range []string{"", "false", "1", "yes"} {
			t.Setenv("OTEL_SDK_DISABLED", v)
			if sdkDisabled() {
				t.Errorf("OTEL_SDK_DISABLED=%q disables the SDK", v)
			}
		}
	})
}

// TestSetupMalformedResourceAttributes: malformed entries of
// OTEL_RESOURCE_ATTRIBUTES are skipped, the valid ones kept, and Setup
// installs its provider.
func TestSetupMalformedResourceAttributes(t *testing.T) {
	restoreGlobals(t)
	t.Setenv("OTEL_SDK_DISABLED", "")
	t.Setenv("OTEL_SERVICE_NAME", "")
	t.Setenv("OTEL_TRACES_EXPORTER", "console")
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=prod,broken,team=a%2Fb,,bad=%zz")
	ctx, cancel := context.WithTimeout(context.Background(), testutil.DefaultTimeout)
	defer cancel()

	got := map[string]string{}
	for _, kv := range newResource(ctx, "greeter").Attributes() {
		got[string(kv.Key)] = kv.Value.String()
	}
	for k, want := range map[string]string{"service.name": "greeter", "deployment.environment": "prod", "team": "a/b"} {
		if got[k] != want {
			t.Errorf("resource %s = %q, want %q (resource %v)", k, got[k], want, got)
		}
	}
	if _, ok := got["broken"]; ok {
		t.Errorf("resource kept the malformed entry: %v", got)
	}

	shutdown, err := Setup(ctx, "greeter")
	if err != nil {
		t.Fatalf("Setup with malformed resource attributes: %v", err)
	}
	defer func() { _ = shutdown(ctx) }()
	if _, ok := otel.GetTracerProvider().(*sdktrace.TracerProvider); !ok {
		t.Errorf("global provider is %T, want the SDK's", otel.GetTracerProvider())
	}
}
