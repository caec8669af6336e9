package zoneaware

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/resolver"

	"github.com/grpckit/grpckit/internal/testutil"
)

func TestResolverErrorBeforeEndpointsFailsCalls(t *testing.T) {
	cc := testutil.NewBalancerClientConn()
	b := balancer.Get(Name).Build(cc, balancer.BuildOptions{})
	defer b.Close()
	b.ResolverError(errors.New("registry unreachable"))
	s := cc.LastState()
	if s.ConnectivityState != connectivity.TransientFailure {
		t.Fatalf("state %v, want TRANSIENT_FAILURE", s.ConnectivityState)
	}
	if _, err := s.Picker.Pick(balancer.PickInfo{}); err == nil || !strings.Contains(err.Error(), "registry unreachable") {
		t.Fatalf("pick error %v, want the resolver's", err)
	}
}

func TestNoEndpointsIsBadResolverState(t *testing.T) {
	cc := testutil.NewBalancerClientConn()
	bb := balancer.Get(Name)
	b := bb.Build(cc, balancer.BuildOptions{})
	defer b.Close()
	cfg, err := bb.(balancer.ConfigParser).ParseConfig(json.RawMessage(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	err = b.UpdateClientConnState(balancer.ClientConnState{ResolverState: resolver.State{}, BalancerConfig: cfg})
	if !errors.Is(err, balancer.ErrBadResolverState) {
		t.Fatalf("UpdateClientConnState with no endpoints: %v, want ErrBadResolverState", err)
	}
	if s := cc.LastState(); s.ConnectivityState != connectivity.TransientFailure {
		t.Fatalf("state %v, want TRANSIENT_FAILURE", s.ConnectivityState)
	}
}
