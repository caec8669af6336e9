package etcd

import (
	"errors"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/grpclog"
	"google.golang.org/grpc/resolver"

	kitresolver "github.com/grpckit/grpckit/resolver"
	"github.com/grpckit/grpckit/resolver/internal/watchshare"
)

// Scheme is the target scheme the builder serves: etcd:///<service>.
const Scheme = "etcd"

var logger = grpclog.Component("grpckit-etcd")

// builder builds etcd resolvers that share one client and configuration,
// and one watch per service: every channel of the builder that resolves a
// service subscribes to the same watch.
type builder struct {
	cli     *clientv3.Client
	cfg     config
	err     error // configuration error, reported by every Build
	watches watchshare.Group[string]
}

// NewBuilder returns a resolver.Builder for targets etcd:///<service>, reading
// the instances under <prefix><service>/ through cli. Pass it to
// grpc.NewClient with grpc.WithResolvers. The caller owns cli and closes it
// after every channel using the builder is closed.
//
// NewBuilder cannot fail; a configuration error (a nil client, an invalid
// backoff) is reported through every channel that uses the builder.
func NewBuilder(cli *clientv3.Client, opts ...Option) resolver.Builder {
	cfg := newConfig(opts)
	err := cfg.validate()
	if cli == nil {
		err = errors.New("etcd: NewBuilder was given a nil client")
	}
	return &builder{cli: cli, cfg: cfg, err: err}
}

// Scheme returns "etcd".
func (b *builder) Scheme() string { return Scheme }

// Build starts watching the target's service and returns at once. A target
// or configuration error is reported through cc, never returned, so the
// channel's RPCs fail with it instead of the channel failing to start.
func (b *builder) Build(target resolver.Target, cc resolver.ClientConn, _ resolver.BuildOptions) (resolver.Resolver, error) {
	service, err := parseTarget(target)
	if err = errors.Join(b.err, err); err != nil {
		cc.ReportError(err)
		return nopResolver{}, nil
	}
	snap, err := b.snapshot(service)
	if err != nil {
		cc.ReportError(err)
		return nopResolver{}, nil
	}
	return b.watches.Join(service, cc, snap, b.cfg.backoff, func(h *watchshare.Hub) func() {
		w := newWatcher(b.cli, b.cfg, service, h)
		h.Watch = w
		w.start()
		return w.stop
	}), nil
}

// snapshot returns the snapshot of service, or nil when snapshots are off.
// Its identity is the service's key, which holds the prefix.
func (b *builder) snapshot(service string) (*kitresolver.Snapshot, error) {
	if b.cfg.snapshotDir == "" {
		return nil, nil
	}
	var opts []kitresolver.SnapshotOption
	if b.cfg.maxAgeSet {
		opts = append(opts, kitresolver.SnapshotMaxAge(b.cfg.snapshotMaxAge))
	}
	snap, err := kitresolver.NewSnapshot(b.cfg.snapshotDir, Scheme+":"+b.cfg.serviceKey(service), opts...)
	if err != nil {
		return nil, fmt.Errorf("etcd: %w", err)
	}
	return snap, nil
}

// parseTarget returns the service name of etcd:///<service>.
func parseTarget(t resolver.Target) (string, error) {
	u := t.URL
	if u.Host != "" {
		return "", fmt.Errorf("etcd: target %q names host %q: write etcd:///<service>, the builder's client picks the etcd endpoints", t.String(), u.Host)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("etcd: target %q has a query or fragment: write etcd:///<service>", t.String())
	}
	service := t.Endpoint()
	if err := kitresolver.ValidateServiceName(service); err != nil {
		return "", fmt.Errorf("etcd: target %q: %w", t.String(), err)
	}
	return service, nil
}

// nopResolver is returned for targets that cannot be served.
type nopResolver struct{}

func (nopResolver) ResolveNow(resolver.ResolveNowOptions) {}
func (nopResolver) Close()                                {}
