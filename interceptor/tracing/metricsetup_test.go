package tracing

import (
	"context"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/grpckit/grpckit/internal/testutil"
)

// restoreMeterProvider puts the global meter provider back after the test.
func restoreMeterProvider(t *testing.T) {
	mp := otel.GetMeterProvider()
	t.Cleanup(func() {
		if otel.GetMeterProvider() != mp {
			otel.SetMeterProvider(mp)
		}
	})
}

// TestSetupMetricsPrometheus serves a counter recorded on the global
// provider at /metrics, and stops serving at shutdown.
func TestSetupMetricsPrometheus(t *testing.T) {
	restoreMeterProvider(t)
	t.Setenv("OTEL_METRICS_EXPORTER", "prometheus")
	t.Setenv("OTEL_EXPORTER_PROMETHEUS_HOST", "127.0.0.1")
	t.Setenv("OTEL_EXPORTER_PROMETHEUS_PORT", "0")
	ctx, cancel := context.WithTimeout(context.Background(), testutil.DefaultTimeout)
	defer cancel()
	ms, err := setupMetrics(ctx, "greeter")
	if err != nil {
		t.Fatal(err)
	}
	c, err := otel.Meter("test").Int64Counter("grpckit.test.calls")
	if err != nil {
		t.Fatal(err)
	}
	c.Add(ctx, 7)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+ms.promAddr+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(body), "grpckit_test_calls_total") || !strings.Contains(string(body), `service_name="greeter"`) {
		t.Errorf("/metrics lacks the counter or the service name:\n%s", body)
	}
	if err := ms.shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if resp, err := http.DefaultClient.Do(req.Clone(ctx)); err == nil {
		resp.Body.Close()
		t.Error("/metrics still served after shutdown")
	}
}

// TestSetupMetricsConsole prints a counter as JSON on standard output at
// shutdown.
func TestSetupMetricsConsole(t *testing.T) {
	restoreMeterProvider(t)
	t.Setenv("OTEL_METRICS_EXPORTER", "console")
	out, err := os.CreateTemp(t.TempDir(), "stdout")
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = out
	defer func() { os.Stdout = stdout }()
	ctx, cancel := context.WithTimeout(context.Background(), testutil.DefaultTimeout)
	defer cancel()
	shutdown, err := SetupMetrics(ctx, "greeter")
	if err != nil {
		t.Fatal(err)
	}
	c, err := otel.Meter("test").Int64Counter("grpckit.test.console")
	if err != nil {
		t.Fatal(err)
	}
	c.Add(ctx, 3)
	if err := shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	written, err := os.ReadFile(out.Name())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(written), `"Name":"grpckit.test.console"`) {
		t.Errorf("standard output lacks the counter:\n%s", written)
	}
}

// TestSetupMetricsNoneAndDisabled installs a no-op provider; bad names are
// refused and install nothing.
func TestSetupMetricsNoneAndDisabled(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testutil.DefaultTimeout)
	defer cancel()
	for _, c := range []struct{ exporter, disabled, wantErr string }{
		{"none", "", ""},
		{"bogus", "true", ""},
		{"otlp,bogus", "", `unknown exporter "bogus"`},
		{"none,console", "", "mixes none"},
	} {
		t.Run(c.exporter+"/"+c.disabled, func(t *testing.T) {
			restoreMeterProvider(t)
			sdk := sdkmetric.NewMeterProvider()
			t.Cleanup(func() { _ = sdk.Shutdown(ctx) })
			otel.SetMeterProvider(sdk)
			t.Setenv("OTEL_METRICS_EXPORTER", c.exporter)
			t.Setenv("OTEL_SDK_DISABLED", c.disabled)
			shutdown, err := SetupMetrics(ctx, "greeter")
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err %v, want one saying %q", err, c.wantErr)
				}
				if otel.GetMeterProvider() != metric.MeterProvider(sdk) {
					t.Error("a refused configuration replaced the global provider")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := otel.GetMeterProvider().(metricnoop.MeterProvider); !ok {
				t.Errorf("global provider %T, want a no-op one", otel.GetMeterProvider())
			}
			if err := shutdown(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}
