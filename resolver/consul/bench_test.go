package consul_test

import (
	"context"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"google.golang.org/grpc/resolver"

	kitresolver "github.com/grpckit/grpckit/resolver"
	"github.com/grpckit/grpckit/resolver/consul"
)

// BenchmarkChange measures one registration change until it is seen: by the
// resolver as a new state (UpdateState), and, as the anchor, by a raw
// blocking query loop on the same agent. Both include the registration
// round trip.
func BenchmarkChange(b *testing.B) {
	cli := agent.Client()
	b.Run("raw_blocking_query", func(b *testing.B) {
		seen := rawWeights(b, "bench-raw")
		benchChanges(b, cli, "bench-raw", func(w int) {
			for got := range seen {
				if got == w {
					return
				}
			}
		})
	})
	b.Run("resolver_update_state", func(b *testing.B) {
		cc := buildResolver(b, consul.NewBuilder(), target("bench-resolver"))
		benchChanges(b, cli, "bench-resolver", func(w int) {
			waitState(b, cc, func(s resolver.State) bool {
				return len(s.Endpoints) == 1 && kitresolver.WeightOf(s.Endpoints[0]) == uint32(w)
			})
		})
	})
}

// benchChanges registers service with a new weight b.N times and calls seen
// to wait until the change is observed.
func benchChanges(b *testing.B, cli *api.Client, service string, seen func(weight int)) {
	reg := &api.AgentServiceRegistration{ID: service, Name: service, Address: "127.0.0.1", Port: 9, Weights: &api.AgentWeights{Passing: 1, Warning: 1}}
	set := func(w int) {
		reg.Weights.Passing = w
		if err := cli.Agent().ServiceRegister(reg); err != nil {
			b.Fatal(err)
		}
		seen(w)
	}
	set(1)
	b.Cleanup(func() { cli.Agent().ServiceDeregister(service) })
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		set(2 + i%100)
	}
}

// rawWeights runs blocking queries for service and sends the weight of its
// single instance after every answer.
func rawWeights(b *testing.B, service string) <-chan int {
	cfg := api.DefaultConfig()
	cfg.Address = agent.Addr()
	cli, err := api.NewClient(cfg)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan int, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		var index uint64
		for ctx.Err() == nil {
			entries, meta, err := cli.Health().Service(service, "", true, (&api.QueryOptions{WaitIndex: index}).WithContext(ctx))
			if err != nil {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			index = meta.LastIndex
			if len(entries) == 1 {
				select {
				case out <- entries[0].Service.Weights.Passing:
				case <-ctx.Done():
				}
			}
		}
	}()
	b.Cleanup(func() {
		cancel()
		<-done
		cfg.Transport.CloseIdleConnections()
	})
	return out
}
