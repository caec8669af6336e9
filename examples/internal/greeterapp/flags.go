package greeterapp

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/consul/api"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/grpckit/grpckit/interceptor/tracing"
)

// RegistryFlags are the command-line flags that choose a registry.
type RegistryFlags struct {
	Kind string // "etcd" or "consul"
	Addr string // etcd endpoints (comma-separated) or the Consul agent
	TTL  time.Duration
}

// Register defines the flags on fs.
func (f *RegistryFlags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.Kind, "registry", "etcd", `service registry: "etcd" or "consul"`)
	fs.StringVar(&f.Addr, "registry-addr", "", "etcd endpoints, comma-separated (default 127.0.0.1:2379), or the Consul agent's HTTP address (default $CONSUL_HTTP_ADDR, else 127.0.0.1:8500)")
	fs.DurationVar(&f.TTL, "ttl", 0, "etcd lease TTL of the registration (default 10s)")
}

// Open connects to the registry the flags name. close releases it.
func (f *RegistryFlags) Open() (reg Registry, close func(), err error) {
	switch f.Kind {
	case "etcd":
		endpoints := strings.Split(cmp.Or(f.Addr, "127.0.0.1:2379"), ",")
		cli, err := clientv3.New(clientv3.Config{
			Endpoints:            endpoints,
			DialTimeout:          5 * time.Second,
			DialKeepAliveTime:    10 * time.Second,
			DialKeepAliveTimeout: 3 * time.Second,
		})
		if err != nil {
			return Registry{}, nil, fmt.Errorf("greeterapp: etcd client: %w", err)
		}
		return Registry{Etcd: cli, TTL: f.TTL}, func() { cli.Close() }, nil
	case "consul":
		cfg := api.DefaultConfig() // CONSUL_HTTP_ADDR, CONSUL_HTTP_TOKEN, TLS, ...
		if f.Addr != "" {
			cfg.Address = f.Addr
		}
		return Registry{Consul: cfg}, func() {}, nil
	default:
		return Registry{}, nil, fmt.Errorf(`greeterapp: -registry %q: want "etcd" or "consul"`, f.Kind)
	}
}

// Setup prepares an example command once its flags are parsed: tracing as
// tracingName (OTEL_* configure it, see tracing.Setup) and the registry rf
// names. cleanup closes the registry, then flushes the traces.
func Setup(ctx context.Context, tracingName string, rf *RegistryFlags) (reg Registry, cleanup func(), err error) {
	shutdownTracing, err := tracing.Setup(ctx, tracingName)
	if err != nil {
		return Registry{}, nil, err
	}
	reg, closeReg, err := rf.Open()
	if err != nil {
		shutdownTracing(context.Background())
		return Registry{}, nil, err
	}
	return reg, func() { closeReg(); shutdownTracing(context.Background()) }, nil
}
