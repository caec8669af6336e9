package outlier_test

import (
	"testing"

	"google.golang.org/grpc/balancer"

	"github.com/grpckit/grpckit/balancer/outlier"
)

// TestDoneTwiceIsHarmless calls a pick's Done twice, as a buggy caller or an
// interceptor might: the second call must neither panic nor end another pick.
func TestDoneTwiceIsHarmless(t *testing.T) {
	p := readyPicker(t, outlier.Name, `{"childPolicy":[{"grpckit_p2c":{}}]}`, 3)
	for i := 0; i < 100; i++ {
		res, err := p.Pick(balancer.PickInfo{FullMethodName: "/s/m"})
		if err != nil {
			t.Fatal(err)
		}
		if res.Done == nil {
			t.Fatal("pick has no Done")
		}
		res.Done(balancer.DoneInfo{})
		res.Done(balancer.DoneInfo{})
	}
}
