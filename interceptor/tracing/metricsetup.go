package tracing

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/exporters/stdout/stdoutmetric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// exporterPrometheus is the OTEL_METRICS_EXPORTER name of the Prometheus
// pull exporter.
const exporterPrometheus = "prometheus"

// SetupMetrics installs the process-wide OpenTelemetry MeterProvider that
// grpckit's interceptors (and any instrumentation reading the global
// provider) record to, configured from the standard environment as Setup
// configures tracing:
//
//   - OTEL_SDK_DISABLED: true installs a no-op provider and reads nothing
//     else.
//   - OTEL_METRICS_EXPORTER: a comma-separated list of otlp (the default),
//     prometheus, console (JSON on standard output) and none. With none
//     alone a no-op provider is installed.
//   - OTEL_EXPORTER_OTLP_METRICS_PROTOCOL, else OTEL_EXPORTER_OTLP_PROTOCOL:
//     grpc or http/protobuf (the default); the other OTEL_EXPORTER_OTLP_*
//     variables are read by the exporter, and OTEL_METRIC_EXPORT_INTERVAL
//     (default 60s) by the SDK's periodic reader, for otlp and console.
//   - OTEL_EXPORTER_PROMETHEUS_HOST and OTEL_EXPORTER_PROMETHEUS_PORT
//     (default localhost:9464): where SetupMetrics serves /metrics for
//     Prometheus to scrape, from a registry of its own.
//   - OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES, as for Setup.
//
// The balancers' metrics go through gRPC's stats plugin instead: pass
// opentelemetry.DialOption from google.golang.org/grpc/stats/opentelemetry
// with MetricsOptions{MeterProvider: otel.GetMeterProvider(), Metrics: ...}
// naming the grpckit.lb.* metrics to enable. Call shutdown before the
// process exits: it flushes pending metrics and stops the Prometheus
// endpoint. An unknown exporter or protocol, or a Prometheus address that
// cannot be listened on, is an error, and nothing is installed.
func SetupMetrics(ctx context.Context, serviceName string) (shutdown func(context.Context) error, err error) {
	ms, err := setupMetrics(ctx, serviceName)
	if err != nil {
		return nil, err
	}
	return ms.shutdown, nil
}

// metricSetup is what setupMetrics installed.
type metricSetup struct {
	mp       *sdkmetric.MeterProvider // nil: a no-op provider
	server   *http.Server             // the Prometheus endpoint, if any
	promAddr string                   // its address
}

func (ms *metricSetup) shutdown(ctx context.Context) error {
	var errs []error
	if ms.server != nil {
		errs = append(errs, ms.server.Shutdown(ctx))
	}
	if ms.mp != nil {
		errs = append(errs, ms.mp.Shutdown(ctx))
	}
	return errors.Join(errs...)
}

func setupMetrics(ctx context.Context, serviceName string) (*metricSetup, error) {
	if serviceName == "" {
		return nil, errors.New("tracing: empty service name")
	}
	if sdkDisabled() {
		otel.SetMeterProvider(metricnoop.NewMeterProvider())
		return &metricSetup{}, nil
	}
	names, err := metricExporterNames()
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		otel.SetMeterProvider(metricnoop.NewMeterProvider())
		return &metricSetup{}, nil
	}
	ms := &metricSetup{}
	opts := []sdkmetric.Option{sdkmetric.WithResource(newResource(ctx, serviceName))}
	for _, n := range names {
		r, err := ms.newReader(ctx, n)
		if err != nil {
			_ = ms.shutdown(ctx)
			return nil, err
		}
		opts = append(opts, sdkmetric.WithReader(r))
	}
	ms.mp = sdkmetric.NewMeterProvider(opts...)
	otel.SetMeterProvider(ms.mp)
	logger.Infof("tracing: exporting metrics of %q with %s", serviceName, strings.Join(names, ", "))
	return ms, nil
}

// metricExporterNames parses OTEL_METRICS_EXPORTER like exporterNames does
// OTEL_TRACES_EXPORTER.
func metricExporterNames() ([]string, error) {
	env := os.Getenv("OTEL_METRICS_EXPORTER")
	if strings.TrimSpace(env) == "" {
		return []string{exporterOTLP}, nil
	}
	var names []string
	none := false
	for _, n := range strings.Split(env, ",") {
		switch n = strings.ToLower(strings.TrimSpace(n)); n {
		case exporterNone:
			none = true
		case exporterOTLP, exporterConsole, exporterPrometheus:
			if !slices.Contains(names, n) {
				names = append(names, n)
			}
		default:
			return nil, fmt.Errorf("tracing: OTEL_METRICS_EXPORTER: unknown exporter %q (want otlp, prometheus, console or none)", n)
		}
	}
	if none && len(names) > 0 {
		return nil, fmt.Errorf("tracing: OTEL_METRICS_EXPORTER: %q mixes none with exporters", env)
	}
	return names, nil
}

// newReader returns the reader of one exporter.
func (ms *metricSetup) newReader(ctx context.Context, name string) (sdkmetric.Reader, error) {
	switch name {
	case exporterConsole:
		exp, err := stdoutmetric.New(stdoutmetric.WithWriter(os.Stdout))
		if err != nil {
			return nil, fmt.Errorf("tracing: console metric exporter: %w", err)
		}
		return sdkmetric.NewPeriodicReader(exp), nil
	case exporterPrometheus:
		return ms.newPrometheus()
	}
	exp, err := newOTLPMetricExporter(ctx)
	if err != nil {
		return nil, err
	}
	return sdkmetric.NewPeriodicReader(exp), nil
}

// newPrometheus makes the Prometheus reader on a registry of its own and
// serves that registry at /metrics.
func (ms *metricSetup) newPrometheus() (sdkmetric.Reader, error) {
	reg := prometheus.NewRegistry()
	r, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return nil, fmt.Errorf("tracing: prometheus exporter: %w", err)
	}
	host, port := os.Getenv("OTEL_EXPORTER_PROMETHEUS_HOST"), os.Getenv("OTEL_EXPORTER_PROMETHEUS_PORT")
	if host == "" {
		host = "localhost"
	}
	if port == "" {
		port = "9464"
	}
	lis, err := net.Listen("tcp", net.JoinHostPort(host, port))
	if err != nil {
		return nil, fmt.Errorf("tracing: prometheus exporter: OTEL_EXPORTER_PROMETHEUS_HOST/PORT: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	ms.server = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	ms.promAddr = lis.Addr().String()
	go func() {
		if err := ms.server.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Warningf("tracing: prometheus endpoint: %v", err)
		}
	}()
	return r, nil
}

func newOTLPMetricExporter(ctx context.Context) (sdkmetric.Exporter, error) {
	var exp sdkmetric.Exporter
	var err error
	switch p := otlpProtocol("METRICS"); p {
	case "grpc":
		exp, err = otlpmetricgrpc.New(ctx)
	case "http/protobuf":
		exp, err = otlpmetrichttp.New(ctx)
	default:
		return nil, fmt.Errorf("tracing: OTLP metrics protocol %q not supported (want grpc or http/protobuf)", p)
	}
	if err != nil {
		return nil, fmt.Errorf("tracing: OTLP metric exporter: %w", err)
	}
	return exp, nil
}
