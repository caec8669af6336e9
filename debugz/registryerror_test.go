package debugz_test

import (
	"errors"
	"net/url"
	"testing"

	"google.golang.org/grpc/resolver"

	"github.com/grpckit/grpckit/debugz"
	"github.com/grpckit/grpckit/internal/testutil"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

// publishingBuilder builds resolvers that publish through a
// kitresolver.Publisher, as grpckit's registries do, and keeps the last
// one's Publisher for the test to drive.
type publishingBuilder struct{ pub *kitresolver.Publisher }

func (b *publishingBuilder) Build(_ resolver.Target, cc resolver.ClientConn, _ resolver.BuildOptions) (resolver.Resolver, error) {
	b.pub = kitresolver.NewPublisher(cc, nil)
	return nopResolver{b.pub}, nil
}

func (*publishingBuilder) Scheme() string { return "pub" }

type nopResolver struct{ pub *kitresolver.Publisher }

func (nopResolver) ResolveNow(resolver.ResolveNowOptions) {}
func (r nopResolver) Close()                              { r.pub.Close() }

// TestRegistryErrorAfterAnswerShown: a registry error after the first
// answer, which the channel is never told of (it keeps its instances), is on
// the page: the outage shows even where calls go on.
func TestRegistryErrorAfterAnswerShown(t *testing.T) {
	p := debugz.New()
	pb := &publishingBuilder{}
	u, _ := url.Parse("pub:///greeter")
	r, err := p.Builder(pb).Build(resolver.Target{URL: *u}, testutil.NewResolverClientConn(), resolver.BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := pb.pub.Publish([]kitresolver.Instance{{ID: "g1", Service: "greeter", Addr: "10.0.0.1:1"}}); err != nil {
		t.Fatal(err)
	}
	pb.pub.Fail(errors.New("etcd: the registry is down"))
	rs := p.Report().Resolvers
	if len(rs) != 1 || rs[0].Errors != 1 || rs[0].LastError != "etcd: the registry is down" || len(rs[0].Instances) != 1 {
		t.Fatalf("resolvers on the page: %+v, want one with its instance and the registry's error", rs)
	}
}
