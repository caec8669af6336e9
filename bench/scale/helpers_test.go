package scale

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/resolver"

	"github.com/grpckit/grpckit/bench/internal/fakecc"
	"github.com/grpckit/grpckit/internal/testutil"
	"github.com/grpckit/grpckit/registrytest"
	"github.com/grpckit/grpckit/resolver/etcd"
)

// prefix is the service's key prefix under etcd's default registry prefix.
const prefix = "/services/greeter/"

// value is an instance's registry value, in the format the resolver reads.
func value(i int) string {
	b, _ := json.Marshal(map[string]any{"addr": fakecc.AddrOf(i), "weight": 1})
	return string(b)
}

// seed starts embedded etcd and registers n instances of greeter, ids 0…n-1,
// in transactions of 100 puts.
func seed(tb testing.TB, ctx context.Context, n int) *clientv3.Client {
	tb.Helper()
	cli := registrytest.StartEtcd(tb).Client(tb)
	for lo := 0; lo < n; lo += 100 {
		var ops []clientv3.Op
		for i := lo; i < min(lo+100, n); i++ {
			ops = append(ops, clientv3.OpPut(fmt.Sprintf("%s%d", prefix, i), value(i)))
		}
		if _, err := cli.Txn(ctx).Then(ops...).Commit(); err != nil {
			tb.Fatalf("seeding %d instances: %v", n, err)
		}
	}
	return cli
}

// watchResolver builds the etcd resolver for greeter on a fake ClientConn
// and waits for its first state, which must hold n endpoints.
func watchResolver(tb testing.TB, ctx context.Context, cli *clientv3.Client, n int) *testutil.ResolverClientConn {
	tb.Helper()
	cc := testutil.NewResolverClientConn()
	u, _ := url.Parse("etcd:///greeter")
	r, err := etcd.NewBuilder(cli).Build(resolver.Target{URL: *u}, cc, resolver.BuildOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(r.Close)
	waitEndpoints(tb, ctx, cc, n)
	return cc
}

// waitEndpoints receives states until one has n endpoints.
func waitEndpoints(tb testing.TB, ctx context.Context, cc *testutil.ResolverClientConn, n int) {
	for {
		s, err := cc.States.Receive(ctx)
		if err != nil {
			tb.Fatalf("waiting for %d endpoints: %v", n, err)
		}
		if len(s.Endpoints) == n {
			return
		}
	}
}

// toggle adds instance n when i is even and deletes it when i is odd, and
// returns how many instances the service then has.
func toggle(tb testing.TB, ctx context.Context, cli *clientv3.Client, n, i int) int {
	key := fmt.Sprintf("%s%d", prefix, n)
	var err error
	want := n
	if i%2 == 0 {
		_, err = cli.Put(ctx, key, value(n))
		want = n + 1
	} else {
		_, err = cli.Delete(ctx, key)
	}
	if err != nil {
		tb.Fatal(err)
	}
	return want
}

func benchContext(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	tb.Cleanup(cancel)
	return ctx
}
