// Command server is the example greeter server: it serves greeter.v1.Greeter,
// grpc.health.v1, server reflection and gRPC's admin services (channelz) behind grpckit's recommended server
// interceptor stack, and registers itself in etcd or Consul.
//
//	go run ./examples/greeter/server -registry etcd -listen 127.0.0.1:50051 -weight 3 -zone eu-1a
//
// On SIGINT or SIGTERM it takes itself out of service before it stops: health
// NOT_SERVING, deregister, wait for clients to drop it, GracefulStop.
// With -debug 127.0.0.1:8081 it serves grpckit's debug page (package debugz)
// at http://127.0.0.1:8081/debugz. OTEL_TRACES_EXPORTER (otlp, console, none) and the other OTEL_* variables
// configure tracing.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/time/rate"

	"github.com/grpckit/grpckit/debugz"
	"github.com/grpckit/grpckit/examples/internal/greeterapp"
	"github.com/grpckit/grpckit/interceptor/ratelimit"
	"github.com/grpckit/grpckit/interceptor/stack"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		log.Fatal(err)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	var (
		rf       greeterapp.RegistryFlags
		inst     kitresolver.Instance
		weight   uint
		listen   = fs.String("listen", "127.0.0.1:50051", "address to listen on")
		delay    = fs.Duration("delay", 0, "time every call takes (to play a slow backend)")
		limit    = fs.Float64("rate", 0, "calls per second admitted from each peer host (0 or negative: no limit, the server stack's default; see interceptor/stack)")
		burst    = fs.Int("burst", 10, "burst of the per-peer limit set by -rate")
		drainFor = fs.Duration("drain", 10*time.Second, "how long shutdown may take")
		debug    = fs.String("debug", "", "address to serve the debug page on, such as 127.0.0.1:8081 (default: no page); it shows the -rate limiter's keys")
	)
	rf.Register(fs)
	fs.StringVar(&inst.Service, "service", "greeter", "service name to register")
	fs.StringVar(&inst.ID, "id", "", "instance id (default: the address)")
	fs.StringVar(&inst.Addr, "advertise", "", "address clients dial (default: the listen address, loopback if it is unspecified)")
	fs.UintVar(&weight, "weight", 1, "weight of the instance for weighted balancers")
	fs.StringVar(&inst.Zone, "zone", "", "zone of the instance for zone-aware routing")
	fs.StringVar(&inst.Version, "version", "", "version of the instance")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if weight > kitresolver.MaxWeight {
		return fmt.Errorf("-weight %d: at most %d", weight, kitresolver.MaxWeight)
	}
	inst.Weight = uint32(weight)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	reg, cleanup, err := greeterapp.Setup(ctx, inst.Service+"-server", &rf)
	if err != nil {
		return err
	}
	defer cleanup()
	var page *debugz.Page
	if *debug != "" {
		page = debugz.New()
		dbg, err := greeterapp.ServeDebug(*debug, page)
		if err != nil {
			return err
		}
		defer dbg.Close()
		fmt.Printf("debug page on %s\n", dbg.URL)
	}
	var stackOpts []stack.ServerOption // the stack's default: no limiter
	if *limit > 0 {
		tb, err := ratelimit.NewTokenBucket(rate.Limit(*limit), *burst)
		if err != nil {
			return err
		}
		var l ratelimit.Limiter = tb
		if page != nil {
			l = page.Limiter("per-peer rate limit", l)
		}
		stackOpts = []stack.ServerOption{stack.WithLimiter(l, ratelimit.WithKey(ratelimit.KeyPeer))}
	}
	srv, err := greeterapp.Start(ctx, greeterapp.ServerConfig{
		Instance: inst, Listen: *listen, Registry: reg, Stack: stackOpts,
	})
	if err != nil {
		return err
	}
	srv.SetDelay(*delay)
	got := srv.Instance()
	if inst.Addr == "" && got.Addr != srv.Addr {
		fmt.Fprintf(os.Stderr, "listening on %s but registered %s, which only clients on this host can dial: set -advertise to an address other hosts reach\n", srv.Addr, got.Addr)
	}
	fmt.Printf("greeter %s serving on %s, registered in %s as %s:///%s (weight %d, zone %q)\n",
		got.ID, srv.Addr, rf.Kind, reg.Scheme(), got.Service, got.EffectiveWeight(), got.Zone)

	<-ctx.Done()
	fmt.Println("shutting down: NOT_SERVING, deregister, drain, stop")
	sctx, cancel := context.WithTimeout(context.Background(), *drainFor)
	defer cancel()
	return srv.Shutdown(sctx)
}
