// Package fakecc builds registered load-balancing policies, grpckit's and
// grpc-go's, on testutil's fake ClientConn with every endpoint READY, so the
// benchmark tools can drive their pickers without a network.
package fakecc

import (
	"errors"
	"fmt"

	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/serviceconfig"

	"github.com/grpckit/grpckit/internal/testutil"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

// Balancer is a policy built on the fake ClientConn. It is not safe for
// concurrent use; its pickers are.
type Balancer struct {
	name string
	cc   *testutil.BalancerClientConn
	bal  balancer.Balancer
	cfg  serviceconfig.LoadBalancingConfig
}

// Build builds the policy registered as name with the JSON configuration
// cfgJSON ("" for none).
func Build(name, cfgJSON string) (*Balancer, error) {
	bb := balancer.Get(name)
	if bb == nil {
		return nil, fmt.Errorf("fakecc: no balancer registered as %q", name)
	}
	b := &Balancer{name: name, cc: testutil.NewBalancerClientConn()}
	if p, ok := bb.(balancer.ConfigParser); ok {
		if cfgJSON == "" {
			cfgJSON = "{}"
		}
		cfg, err := p.ParseConfig([]byte(cfgJSON))
		if err != nil {
			return nil, fmt.Errorf("fakecc: %s: %v", name, err)
		}
		b.cfg = cfg
	}
	b.bal = bb.Build(b.cc, balancer.BuildOptions{})
	return b, nil
}

// Update gives the policy eps, moves every endpoint to READY and returns the
// picker the policy then publishes.
func (b *Balancer) Update(eps []resolver.Endpoint) (balancer.Picker, error) {
	s := balancer.ClientConnState{ResolverState: resolver.State{Endpoints: eps}, BalancerConfig: b.cfg}
	if err := b.bal.UpdateClientConnState(s); err != nil {
		return nil, fmt.Errorf("fakecc: %s: UpdateClientConnState: %v", b.name, err)
	}
	b.cc.SetAllReady()
	st := b.cc.LastState()
	if st.ConnectivityState != connectivity.Ready {
		return nil, fmt.Errorf("fakecc: %s: state %v with every endpoint READY", b.name, st.ConnectivityState)
	}
	return st.Picker, nil
}

// Resolve gives the policy eps without changing any endpoint's state and
// returns the picker it publishes in response.
func (b *Balancer) Resolve(eps []resolver.Endpoint) (balancer.Picker, error) {
	s := balancer.ClientConnState{ResolverState: resolver.State{Endpoints: eps}, BalancerConfig: b.cfg}
	if err := b.bal.UpdateClientConnState(s); err != nil {
		return nil, fmt.Errorf("fakecc: %s: UpdateClientConnState: %v", b.name, err)
	}
	return b.cc.LastState().Picker, nil
}

// Close closes the policy.
func (b *Balancer) Close() { b.bal.Close() }

// ReadyPicker builds the policy, gives it eps and returns its picker with
// every endpoint READY, and a function that closes the policy.
func ReadyPicker(name, cfgJSON string, eps []resolver.Endpoint) (balancer.Picker, func(), error) {
	b, err := Build(name, cfgJSON)
	if err != nil {
		return nil, nil, err
	}
	p, err := b.Update(eps)
	if err != nil {
		b.Close()
		return nil, nil, err
	}
	return p, b.Close, nil
}

// pickedAddr returns the address of the SubConn a pick chose.
func pickedAddr(res balancer.PickResult) (string, error) {
	sc, ok := res.SubConn.(*testutil.SubConn)
	if !ok {
		return "", errors.New("fakecc: picked SubConn is not the fake's")
	}
	return sc.Addr(), nil
}

// AddrOf is the address of endpoint i of Endpoints: 127.0.0.1 and a port from
// 10000 on. Nothing ever dials it.
func AddrOf(i int) string { return fmt.Sprintf("127.0.0.1:%d", 10000+i) }

// Endpoints returns n endpoints of weight 1 with the addresses AddrOf(0…n-1),
// each carrying its Instance.
func Endpoints(n int) []resolver.Endpoint { return kitresolver.Endpoints(Instances(n)) }

// Instances returns the instances of Endpoints(n).
func Instances(n int) []kitresolver.Instance {
	insts := make([]kitresolver.Instance, n)
	for i := range insts {
		insts[i] = kitresolver.Instance{ID: fmt.Sprintf("e%d", i), Service: "greeter", Addr: AddrOf(i), Weight: 1}
	}
	return insts
}

// IndexOf returns i for the address AddrOf(i).
func IndexOf(addr string) (int, bool) {
	var port int
	if _, err := fmt.Sscanf(addr, "127.0.0.1:%d", &port); err != nil || port < 10000 {
		return 0, false
	}
	return port - 10000, true
}

// PickIndex picks with info and returns the index of the endpoint chosen
// (see IndexOf) and the result, for its Done.
func PickIndex(p balancer.Picker, info balancer.PickInfo) (int, balancer.PickResult, error) {
	res, err := p.Pick(info)
	if err != nil {
		return 0, res, err
	}
	addr, err := pickedAddr(res)
	if err != nil {
		return 0, res, err
	}
	i, ok := IndexOf(addr)
	if !ok {
		return 0, res, fmt.Errorf("fakecc: picked address %s is not one of Endpoints'", addr)
	}
	return i, res, nil
}
