package debugz_test

import (
	"errors"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"

	"github.com/grpckit/grpckit/debugz"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

func instanceState(insts ...kitresolver.Instance) resolver.State {
	return resolver.State{Endpoints: kitresolver.Endpoints(insts)}
}

// TestResolverView: the page shows a channel's instances and its
// resolver's last error, and forgets the resolver when the channel closes;
// a channel opened again shows up again.
func TestResolverView(t *testing.T) {
	p := debugz.New()
	for round := range 2 {
		r := manual.NewBuilderWithScheme("dbg")
		cc, err := grpc.NewClient("dbg:///greeter", grpc.WithResolvers(p.Builder(r)),
			grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		cc.Connect()
		waitFor(t, "the resolver to be built", func() bool { return len(p.Report().Resolvers) == 1 })
		r.UpdateState(instanceState(
			kitresolver.Instance{ID: "g1", Service: "greeter", Addr: "127.0.0.1:1", Weight: 3, Zone: "eu-1a", Version: "1.2"},
			kitresolver.Instance{ID: "g2", Service: "greeter", Addr: "127.0.0.1:2", Zone: "eu-1b"},
		))
		r.CC().ReportError(errors.New("etcd: registry unreachable"))

		rep := report(t, p)
		if len(rep.Resolvers) != 1 {
			t.Fatalf("round %d: %d resolvers, want 1", round, len(rep.Resolvers))
		}
		rv := rep.Resolvers[0]
		if rv.Target != "dbg:///greeter" || rv.Updates != 1 || rv.LastUpdate == nil || rv.Stale ||
			rv.Errors != 1 || rv.LastError != "etcd: registry unreachable" || rv.LastErrorAt == nil {
			t.Errorf("round %d: resolver view %+v", round, rv)
		}
		want := []debugz.InstanceView{
			{ID: "g1", Address: "127.0.0.1:1", Weight: 3, Zone: "eu-1a", Version: "1.2"},
			{ID: "g2", Address: "127.0.0.1:2", Weight: kitresolver.DefaultWeight, Zone: "eu-1b"},
		}
		if len(rv.Instances) != 2 || rv.Instances[0] != want[0] || rv.Instances[1] != want[1] {
			t.Errorf("round %d: instances %+v, want %+v", round, rv.Instances, want)
		}
		text := pageText(t, p)
		for _, fact := range []string{"dbg:///greeter", "g1 | 127.0.0.1:1 | 3 | eu-1a | 1.2 |", "etcd: registry unreachable"} {
			if !strings.Contains(text, fact) {
				t.Errorf("round %d: page text lacks %q:\n%s", round, fact, text)
			}
		}

		cc.Close()
		if n := len(report(t, p).Resolvers); n != 0 {
			t.Fatalf("round %d: %d resolvers after Close, want 0", round, n)
		}
	}
}
