package greeterapp

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/consul/api"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/resolver"

	kitresolver "github.com/grpckit/grpckit/resolver"
	"github.com/grpckit/grpckit/resolver/consul"
	"github.com/grpckit/grpckit/resolver/etcd"
)

// Registry is the service registry the examples use: exactly one of Etcd and
// Consul is set.
type Registry struct {
	// Etcd is a client of the etcd cluster to register in and resolve from.
	Etcd *clientv3.Client
	// Consul is the configuration of the Consul agent's client
	// (api.DefaultConfig reads the standard CONSUL_* environment).
	Consul *api.Config

	// TTL is the etcd lease TTL of registrations; 0 means etcd.DefaultTTL.
	TTL time.Duration
	// CheckInterval is the interval of Consul's gRPC health check; 0 means
	// consul.DefaultCheckInterval.
	CheckInterval time.Duration
}

// Scheme returns the target scheme of the registry: "etcd" or "consul".
func (r Registry) Scheme() string {
	if r.Consul != nil {
		return consul.Scheme
	}
	return etcd.Scheme
}

func (r Registry) validate() error {
	if (r.Etcd == nil) == (r.Consul == nil) {
		return errors.New("greeterapp: exactly one of Registry.Etcd and Registry.Consul must be set")
	}
	return nil
}

// Builder returns the resolver builder for the registry's scheme.
func (r Registry) Builder() resolver.Builder {
	if r.Consul != nil {
		return consul.NewBuilder(consul.WithConfig(r.Consul))
	}
	return etcd.NewBuilder(r.Etcd)
}

// registration is what both registrars return.
type registration interface {
	Deregister(ctx context.Context) error
}

func (r Registry) register(ctx context.Context, inst kitresolver.Instance) (registration, error) {
	if r.Consul != nil {
		var opts []consul.RegisterOption
		if r.CheckInterval > 0 {
			opts = append(opts, consul.WithCheckInterval(r.CheckInterval))
		}
		cli, err := api.NewClient(r.Consul)
		if err != nil {
			return nil, fmt.Errorf("greeterapp: Consul client: %w", err)
		}
		reg, err := consul.Register(ctx, cli, inst, opts...)
		if err != nil {
			return nil, fmt.Errorf("greeterapp: registering %s in Consul: %w", inst.ID, err)
		}
		return reg, nil
	}
	var opts []etcd.RegisterOption
	if r.TTL > 0 {
		opts = append(opts, etcd.WithTTL(r.TTL))
	}
	reg, err := etcd.Register(ctx, r.Etcd, inst, opts...)
	if err != nil {
		return nil, fmt.Errorf("greeterapp: registering %s in etcd: %w", inst.ID, err)
	}
	return reg, nil
}
