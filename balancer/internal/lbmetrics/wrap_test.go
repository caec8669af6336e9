package lbmetrics

import (
	"testing"

	"google.golang.org/grpc/balancer"
	estats "google.golang.org/grpc/experimental/stats"

	"github.com/grpckit/grpckit/internal/testutil"
)

type nopBalancer struct{ balancer.Balancer }

func (nopBalancer) Close() {}

// recorderCC gives the ClientConn's MetricsRecorder as mr.
type recorderCC struct {
	*testutil.BalancerClientConn
	mr estats.MetricsRecorder
}

func (c recorderCC) MetricsRecorder() estats.MetricsRecorder { return c.mr }

// nilUnregister registers reporters without a way to unregister them.
type nilUnregister struct {
	estats.UnimplementedMetricsRecorder
}

func (nilUnregister) RegisterAsyncReporter(estats.AsyncMetricReporter, ...estats.AsyncMetric) func() {
	return nil
}

// TestWrapWithoutRecorder: a ClientConn with no MetricsRecorder, or one
// whose registration gives no unregister function, gets no metrics and no
// panic, from Wrap or from Close.
func TestWrapWithoutRecorder(t *testing.T) {
	for name, mr := range map[string]estats.MetricsRecorder{"no recorder": nil, "no unregister": nilUnregister{}} {
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("%s: %v", name, r)
				}
			}()
			cc := recorderCC{BalancerClientConn: testutil.NewBalancerClientConn(), mr: mr}
			Wrap(nopBalancer{}, cc, func(estats.AsyncMetricsRecorder) {}).Close()
		}()
	}
}
