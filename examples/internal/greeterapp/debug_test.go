package greeterapp

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/grpckit/grpckit/debugz"
	greeterv1 "github.com/grpckit/grpckit/proto/greeter/v1"
	"github.com/grpckit/grpckit/registrytest"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

// TestDebugPage: a client dialled with a debug page shows its etcd
// resolver's instance and its balancer's picks on the page ServeDebug
// serves, and leaves it when the client closes.
func TestDebugPage(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	etcd := registrytest.StartEtcd(t)
	reg := Registry{Etcd: etcd.Client(t), TTL: 5 * time.Second}
	srv, err := Start(ctx, ServerConfig{Instance: kitresolver.Instance{ID: "s1", Zone: "z1", Version: "v9"}, Registry: reg, DrainTime: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(ctx)
	page := debugz.New()
	dbg, err := ServeDebug("127.0.0.1:0", page)
	if err != nil {
		t.Fatal(err)
	}
	defer dbg.Close()
	cc, err := Dial(ClientConfig{Registry: reg, Balancer: "p2c", Debug: page})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := greeterv1.NewGreeterClient(cc).SayHello(ctx, &greeterv1.SayHelloRequest{Name: "x"}); err != nil {
		t.Fatal(err)
	}
	rep := getReport(ctx, t, dbg.URL)
	if len(rep.Resolvers) != 1 || len(rep.Resolvers[0].Instances) != 1 || rep.Resolvers[0].Instances[0].Version != "v9" {
		t.Fatalf("resolvers %+v", rep.Resolvers)
	}
	if len(rep.Balancers) != 1 || rep.Balancers[0].Picks != 1 || rep.Balancers[0].ChildPolicy != "grpckit_p2c" {
		t.Fatalf("balancers %+v", rep.Balancers)
	}
	cc.Close()
	if rep := getReport(ctx, t, dbg.URL); len(rep.Resolvers)+len(rep.Balancers) != 0 {
		t.Fatalf("after Close: %+v", rep)
	}
}

func getReport(ctx context.Context, t *testing.T, url string) debugz.Report {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"?format=json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var rep debugz.Report
	if err := json.Unmarshal(body, &rep); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	http.DefaultClient.CloseIdleConnections()
	return rep
}
