package shardtest

import (
	"context"
	"fmt"
	"testing"

	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/serviceconfig"
)

// ReadyPicker builds the registered policy name on a ClientConn, gives it n
// endpoints, moves them all to READY and returns the resulting picker.
func ReadyPicker(tb testing.TB, name string, n int) balancer.Picker {
	tb.Helper()
	bb := balancer.Get(name)
	if bb == nil {
		tb.Fatalf("no balancer registered as %q", name)
	}
	cc := NewClientConn(tb)
	bal := bb.Build(cc, balancer.BuildOptions{})
	tb.Cleanup(bal.Close)
	var cfg serviceconfig.LoadBalancingConfig
	if p, ok := bb.(balancer.ConfigParser); ok {
		var err error
		if cfg, err = p.ParseConfig([]byte(`{}`)); err != nil {
			tb.Fatalf("%s: ParseConfig: %v", name, err)
		}
	}
	eps := make([]resolver.Endpoint, n)
	for i := range eps {
		eps[i] = resolver.Endpoint{Addresses: []resolver.Address{{Addr: fmt.Sprintf("10.%d.%d.%d:443", i>>16&255, i>>8&255, i&255)}}}
	}
	if err := bal.UpdateClientConnState(balancer.ClientConnState{ResolverState: resolver.State{Endpoints: eps}, BalancerConfig: cfg}); err != nil {
		tb.Fatalf("%s: UpdateClientConnState: %v", name, err)
	}
	cc.SetAllReady()
	s := cc.LastState()
	if s.ConnectivityState != connectivity.Ready {
		tb.Fatalf("%s: state %v after all endpoints READY", name, s.ConnectivityState)
	}
	return s.Picker
}

// BenchmarkPicker measures Pick, and Done when the result has one, as an RPC
// would call them, from parallel goroutines.
func BenchmarkPicker(b *testing.B, p balancer.Picker) {
	info := balancer.PickInfo{FullMethodName: "/greeter.v1.Greeter/SayHello", Ctx: context.Background()}
	di := balancer.DoneInfo{BytesSent: true, BytesReceived: true}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			res, err := p.Pick(info)
			if err != nil {
				b.Errorf("Pick: %v", err)
				return
			}
			if res.Done != nil {
				res.Done(di)
			}
		}
	})
}
