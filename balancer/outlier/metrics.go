package outlier

import (
	estats "google.golang.org/grpc/experimental/stats"
)

// Metrics the policy records through the channel's MetricsRecorder, so any
// gRPC stats plugin (for example google.golang.org/grpc/stats/opentelemetry)
// exports them. They are on by default.
var (
	ejectionsMetric = estats.RegisterInt64Count(estats.MetricDescriptor{
		Name:        "grpckit.lb.outlier.ejections",
		Description: "EXPERIMENTAL. Number of endpoint ejections by the grpckit outlier ejection policy.",
		Unit:        "{ejection}",
		Labels:      []string{"grpc.target", "grpckit.outlier.reason"},
		Default:     true,
	})
	returnsMetric = estats.RegisterInt64Count(estats.MetricDescriptor{
		Name:        "grpckit.lb.outlier.returns",
		Description: "EXPERIMENTAL. Number of ejected endpoints let back in on probation by the grpckit outlier ejection policy.",
		Unit:        "{return}",
		Labels:      []string{"grpc.target"},
		Default:     true,
	})
	refusedMetric = estats.RegisterInt64Count(estats.MetricDescriptor{
		Name:        "grpckit.lb.outlier.ejections_refused",
		Description: "EXPERIMENTAL. Number of ejections not made because maxEjectionPercent of the endpoints were out already.",
		Unit:        "{ejection}",
		Labels:      []string{"grpc.target"},
		Default:     true,
	})
)

// Ejection reasons, the values of the grpckit.outlier.reason label.
const (
	ReasonConsecutiveFailures = "consecutive_failures"
	ReasonFailureRate         = "failure_rate"
)
