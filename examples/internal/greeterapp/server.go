package greeterapp

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/admin"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	"github.com/grpckit/grpckit/interceptor/stack"
	"github.com/grpckit/grpckit/internal/greeter"
	greeterv1 "github.com/grpckit/grpckit/proto/greeter/v1"
	kitresolver "github.com/grpckit/grpckit/resolver"
	"github.com/grpckit/grpckit/resolver/consul"
)

// DefaultDrainTime is how long Shutdown waits, on etcd, between deregistering
// and stopping, so that clients' resolvers drop the instance before its
// connections close.
const DefaultDrainTime = time.Second

// ServerConfig configures Start.
type ServerConfig struct {
	// Instance is what the server registers. Service defaults to "greeter";
	// Addr defaults to Advertise, else the address Listen bound; ID defaults
	// to the address.
	Instance kitresolver.Instance
	// Listen is the address to listen on, "127.0.0.1:0" by default.
	Listen string
	// Registry is where the server registers itself.
	Registry Registry
	// Stack configures the server interceptor stack (see stack.Server).
	Stack []stack.ServerOption
	// DrainTime overrides DefaultDrainTime (etcd only: on Consul, Shutdown
	// waits until Consul stops listing the instance as passing).
	DrainTime time.Duration
}

// Server is a running, registered greeter server.
type Server struct {
	*greeter.Server // SetDelay, SetFailure, Calls, Instance

	GRPC   *grpc.Server
	Health *health.Server
	// Addr is the address the server listens on.
	Addr string

	cfg        ServerConfig
	reg        registration
	adminClose func()
	done       chan error
}

// Start listens, serves and registers a greeter server. The server is
// registered only once it is serving, so no client is sent to it early.
func Start(ctx context.Context, cfg ServerConfig) (*Server, error) {
	if err := cfg.Registry.validate(); err != nil {
		return nil, err
	}
	opts, err := stack.Server(cfg.Stack...)
	if err != nil {
		return nil, fmt.Errorf("greeterapp: server stack: %w", err)
	}
	lis, err := net.Listen("tcp", cmp.Or(cfg.Listen, "127.0.0.1:0"))
	if err != nil {
		return nil, fmt.Errorf("greeterapp: %w", err)
	}
	inst := instanceFor(cfg.Instance, lis.Addr().String())
	if err := inst.Validate(); err != nil {
		lis.Close()
		return nil, fmt.Errorf("greeterapp: %w", err)
	}
	s := &Server{
		Server: greeter.New(inst),
		GRPC:   grpc.NewServer(opts...),
		Health: health.NewServer(),
		Addr:   lis.Addr().String(),
		cfg:    cfg,
		done:   make(chan error, 1),
	}
	greeterv1.RegisterGreeterServer(s.GRPC, s.Server)
	healthpb.RegisterHealthServer(s.GRPC, s.Health)
	reflection.Register(s.GRPC)
	// gRPC's admin services (channelz; CSDS too in binaries that import
	// xds), so that grpcdebug and channelz clients can inspect the server
	// and the channels it dials.
	if s.adminClose, err = admin.Register(s.GRPC); err != nil {
		lis.Close()
		return nil, fmt.Errorf("greeterapp: admin services: %w", err)
	}
	go func() { s.done <- s.GRPC.Serve(lis) }()
	kitresolver.SetServing(s.Health, greeterv1.Greeter_ServiceDesc.ServiceName)

	if s.reg, err = cfg.Registry.register(ctx, inst); err != nil {
		s.GRPC.Stop()
		<-s.done
		s.adminClose()
		return nil, err
	}
	return s, nil
}

// instanceFor fills in the defaults of inst for a server listening on addr.
func instanceFor(inst kitresolver.Instance, addr string) kitresolver.Instance {
	inst.Service = cmp.Or(inst.Service, "greeter")
	if inst.Addr == "" {
		inst.Addr = advertised(addr)
	}
	inst.ID = cmp.Or(inst.ID, inst.Addr)
	return inst
}

// advertised turns a listener address on every interface (":50051",
// "[::]:50051") into one on the loopback interface, which a client on the
// same machine can reach. Set Instance.Addr to advertise another.
func advertised(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		return net.JoinHostPort("127.0.0.1", port)
	}
	return addr
}

// Shutdown takes the server out of service and stops it: its health turns
// NOT_SERVING, it deregisters, it waits until clients' resolvers have dropped
// it (bounded by ctx), then it stops gracefully, letting calls in flight
// finish. It returns the first error met; the server is stopped either way.
func (s *Server) Shutdown(ctx context.Context) error {
	var err error
	if reg, ok := s.reg.(*consul.Registration); ok {
		err = reg.Drain(ctx, s.Health)
	} else {
		s.Health.Shutdown()
		err = s.reg.Deregister(ctx)
		wait(ctx, cmp.Or(s.cfg.DrainTime, DefaultDrainTime))
	}
	stopped := make(chan struct{})
	go func() { s.GRPC.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-ctx.Done():
		s.GRPC.Stop() // calls still in flight when ctx ends are cut off
		<-stopped
	}
	if serveErr := <-s.done; serveErr != nil && !errors.Is(serveErr, grpc.ErrServerStopped) {
		err = errors.Join(err, serveErr)
	}
	s.adminClose()
	return err
}

// wait waits for d or until ctx ends.
func wait(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
