package debugz_test

import (
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/resolver/manual"

	"github.com/grpckit/grpckit/balancer/lbconfig"
	"github.com/grpckit/grpckit/debugz"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

// TestOpenCloseStress opens and closes channels on one page from several
// goroutines while others render it: under -race nothing races, and once
// every channel is closed the page holds no resolver and no balancer.
func TestOpenCloseStress(t *testing.T) {
	p := debugz.New()
	lb := lbconfig.Must(debugz.Policy(lbconfig.RoundRobin()))
	stop := make(chan struct{})
	var readers, writers sync.WaitGroup
	for range 2 {
		readers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
					p.Report()
					p.ServeHTTP(discard{}, newRequest())
				}
			}
		})
	}
	for w := range 4 {
		writers.Go(func() {
			for i := range 15 {
				r := manual.NewBuilderWithScheme("stress")
				r.InitialState(instanceState(
					kitresolver.Instance{ID: "a", Service: "s", Addr: "127.0.0.1:1"},
					kitresolver.Instance{ID: "b", Service: "s", Addr: "127.0.0.1:2"},
				))
				cc, err := grpc.NewClient("stress:///s", grpc.WithResolvers(p.Builder(r)), lb.DialOption(),
					grpc.WithTransportCredentials(insecure.NewCredentials()))
				if err != nil {
					t.Error(err)
					return
				}
				cc.Connect()
				if (w+i)%2 == 0 { // let some channels get as far as a balancer
					for deadline := time.Now().Add(20 * time.Second); len(p.Report().Balancers) == 0; {
						if time.Now().After(deadline) {
							t.Error("no balancer on the page after 20s")
							break
						}
						time.Sleep(time.Millisecond)
					}
				}
				cc.Close()
			}
		})
	}
	writers.Wait()
	close(stop)
	readers.Wait()
	if rep := p.Report(); len(rep.Resolvers) != 0 || len(rep.Balancers) != 0 {
		t.Fatalf("after closing every channel: %d resolvers, %d balancers", len(rep.Resolvers), len(rep.Balancers))
	}
}
