package tracing

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/grpc/grpclog"
)

var logger = grpclog.Component("grpckit-tracing")

// Exporter names of OTEL_TRACES_EXPORTER that Setup understands.
const (
	exporterOTLP    = "otlp"
	exporterConsole = "console"
	exporterNone    = "none"
)

// Setup installs the process-wide OpenTelemetry tracing that ServerOption and
// DialOption use by default: a W3C tracecontext and baggage propagator, and
// an SDK TracerProvider configured from the standard environment:
//
//   - OTEL_SDK_DISABLED: true (in any case) installs a no-op provider, and
//     RPCs only propagate the context they receive; the other variables
//     are then not read, so none of them can make Setup fail.
//   - OTEL_TRACES_EXPORTER: a comma-separated list of otlp (the default),
//     console (spans as JSON on standard output) and none. With none alone
//     a no-op provider is installed, as when the SDK is disabled.
//   - OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, else OTEL_EXPORTER_OTLP_PROTOCOL:
//     grpc or http/protobuf (the default, as the specification says); the
//     endpoint, headers, TLS and timeouts come from the other
//     OTEL_EXPORTER_OTLP_* variables, read by the exporter.
//   - OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG, read by the SDK
//     (default parentbased_always_on).
//   - OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES: serviceName is the
//     service.name unless OTEL_SERVICE_NAME overrides it. A malformed entry
//     of OTEL_RESOURCE_ATTRIBUTES is logged and skipped; the valid ones
//     are kept, as the SDK does.
//
// Setup also sends OpenTelemetry's internal errors (an unreachable
// collector, say) to the grpclog component "grpckit-tracing". Call shutdown
// before the process exits to flush the spans still queued. Unless the SDK
// is disabled, an unknown exporter or protocol is an error, and nothing is
// installed.
func Setup(ctx context.Context, serviceName string) (shutdown func(context.Context) error, err error) {
	if serviceName == "" {
		return nil, errors.New("tracing: empty service name")
	}
	if sdkDisabled() {
		// Disabled means disabled: the rest of the environment is not
		// even read, so it cannot be wrong.
		install(noop.NewTracerProvider())
		return func(context.Context) error { return nil }, nil
	}
	names, err := exporterNames()
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		install(noop.NewTracerProvider())
		return func(context.Context) error { return nil }, nil
	}
	tp, err := newProvider(ctx, serviceName, names)
	if err != nil {
		return nil, err
	}
	install(tp)
	logger.Infof("tracing: exporting spans of %q with %s", serviceName, strings.Join(names, ", "))
	return tp.Shutdown, nil
}

// install makes tp and the W3C propagators global, and routes OpenTelemetry's
// internal errors (an unreachable collector, say) to the grpclog component.
func install(tp trace.TracerProvider) {
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(
		propagation.TraceContext{}, propagation.Baggage{}))
	otel.SetTracerProvider(tp)
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		logger.Warningf("tracing: %v", err)
	}))
}

// sdkDisabled reads OTEL_SDK_DISABLED as the specification says booleans
// are read: only "true", in any case, is true; any other value but "false"
// or nothing is logged and taken as false.
func sdkDisabled() bool {
	v := strings.TrimSpace(os.Getenv("OTEL_SDK_DISABLED"))
	switch {
	case strings.EqualFold(v, "true"):
		return true
	case v != "" && !strings.EqualFold(v, "false"):
		logger.Warningf("tracing: OTEL_SDK_DISABLED=%q is not true or false; taken as false", v)
	}
	return false
}

// exporterNames parses OTEL_TRACES_EXPORTER: the exporters to use, none for
// none, or an error for a name Setup does not know.
func exporterNames() ([]string, error) {
	env := os.Getenv("OTEL_TRACES_EXPORTER")
	if strings.TrimSpace(env) == "" {
		return []string{exporterOTLP}, nil
	}
	var names []string
	none := false
	for _, n := range strings.Split(env, ",") {
		switch n = strings.ToLower(strings.TrimSpace(n)); n {
		case exporterNone:
			none = true
		case exporterOTLP, exporterConsole:
			if !slices.Contains(names, n) {
				names = append(names, n)
			}
		default:
			return nil, fmt.Errorf("tracing: OTEL_TRACES_EXPORTER: unknown exporter %q (want otlp, console or none)", n)
		}
	}
	if none && len(names) > 0 {
		return nil, fmt.Errorf("tracing: OTEL_TRACES_EXPORTER: %q mixes none with exporters", env)
	}
	return names, nil
}

// newProvider builds an SDK provider exporting to names. The SDK reads the
// sampler from the environment.
func newProvider(ctx context.Context, serviceName string, names []string) (*sdktrace.TracerProvider, error) {
	opts := []sdktrace.TracerProviderOption{sdktrace.WithResource(newResource(ctx, serviceName))}
	var made []sdktrace.SpanProcessor
	for _, n := range names {
		p, err := newProcessor(ctx, n)
		if err != nil {
			for _, m := range made {
				_ = m.Shutdown(ctx)
			}
			return nil, err
		}
		made = append(made, p)
		opts = append(opts, sdktrace.WithSpanProcessor(p))
	}
	return sdktrace.NewTracerProvider(opts...), nil
}

// newResource describes the service: serviceName, then the SDK and whatever
// OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES say, which win. As the
// SDK's error handling asks, a malformed entry of OTEL_RESOURCE_ATTRIBUTES
// is logged and the valid ones are kept: the SDK's resource.New returns
// what it could detect along with the error.
func newResource(ctx context.Context, serviceName string) *resource.Resource {
	res, err := resource.New(ctx,
		resource.WithAttributes(semconv.ServiceName(serviceName)),
		resource.WithTelemetrySDK(),
		resource.WithFromEnv())
	if err != nil {
		logger.Warningf("tracing: resource: %v; going on with the attributes that are valid", err)
	}
	if res == nil {
		res = resource.NewSchemaless(semconv.ServiceName(serviceName))
	}
	return res
}

// newProcessor returns the span processor of one exporter: batching for OTLP,
// synchronous for the console so lines appear as spans end.
func newProcessor(ctx context.Context, name string) (sdktrace.SpanProcessor, error) {
	if name == exporterConsole {
		exp, err := stdouttrace.New(stdouttrace.WithWriter(os.Stdout))
		if err != nil {
			return nil, fmt.Errorf("tracing: console exporter: %w", err)
		}
		return sdktrace.NewSimpleSpanProcessor(exp), nil
	}
	exp, err := newOTLPExporter(ctx)
	if err != nil {
		return nil, err
	}
	return sdktrace.NewBatchSpanProcessor(exp), nil
}

// otlpProtocol returns the OTLP protocol the environment asks for signal
// ("TRACES" or "METRICS"): OTEL_EXPORTER_OTLP_<signal>_PROTOCOL, else
// OTEL_EXPORTER_OTLP_PROTOCOL, else http/protobuf.
func otlpProtocol(signal string) string {
	if p := os.Getenv("OTEL_EXPORTER_OTLP_" + signal + "_PROTOCOL"); p != "" {
		return p
	}
	if p := os.Getenv("OTEL_EXPORTER_OTLP_PROTOCOL"); p != "" {
		return p
	}
	return "http/protobuf"
}

func newOTLPExporter(ctx context.Context) (sdktrace.SpanExporter, error) {
	var exp sdktrace.SpanExporter
	var err error
	switch p := otlpProtocol("TRACES"); p {
	case "grpc":
		exp, err = otlptracegrpc.New(ctx)
	case "http/protobuf":
		exp, err = otlptracehttp.New(ctx)
	default:
		return nil, fmt.Errorf("tracing: OTLP protocol %q not supported (want grpc or http/protobuf)", p)
	}
	if err != nil {
		return nil, fmt.Errorf("tracing: OTLP exporter: %w", err)
	}
	return exp, nil
}
