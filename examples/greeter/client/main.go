// Command client is the example greeter client: it dials etcd:///greeter or
// consul:///greeter through grpckit's resolvers, balances with the chosen
// policy and calls through the recommended client interceptor stack, printing
// which instance answered each call.
//
//	go run ./examples/greeter/client -registry etcd -balancer p2c -n 20
//	go run ./examples/greeter/client -balancer consistenthash -key user-42
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/grpckit/grpckit/balancer/consistenthash"
	"github.com/grpckit/grpckit/examples/internal/greeterapp"
	greeterv1 "github.com/grpckit/grpckit/proto/greeter/v1"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		log.Fatal(err)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("client", flag.ContinueOnError)
	var (
		rf       greeterapp.RegistryFlags
		service  = fs.String("service", "greeter", "service to call")
		balancer = fs.String("balancer", "wrr", "load-balancing policy: "+strings.Join(greeterapp.Balancers, ", "))
		zone     = fs.String("zone", "", "the client's zone, for -balancer zoneaware")
		key      = fs.String("key", "", "hash key of every call, for -balancer consistenthash")
		name     = fs.String("name", "world", "name to greet")
		n        = fs.Int("n", 10, "number of calls (0: until interrupted)")
		interval = fs.Duration("interval", 200*time.Millisecond, "time between calls")
		timeout  = fs.Duration("timeout", 2*time.Second, "deadline of each call")
	)
	rf.Register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	// The policy is built, and checked, before anything starts.
	lb, err := greeterapp.Policy(*balancer, *zone)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	reg, cleanup, err := greeterapp.Setup(ctx, *service+"-client", &rf)
	if err != nil {
		return err
	}
	defer cleanup()
	conn, err := greeterapp.Dial(greeterapp.ClientConfig{Service: *service, Registry: reg, Policy: lb})
	if err != nil {
		return err
	}
	defer conn.Close()
	client := greeterv1.NewGreeterClient(conn)

	tick := time.NewTicker(*interval)
	defer tick.Stop()
	for i := 1; *n == 0 || i <= *n; i++ {
		call(ctx, client, i, *name, *key, *timeout)
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
	return nil
}

// call makes one SayHello call and prints who answered.
func call(ctx context.Context, client greeterv1.GreeterClient, i int, name, key string, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if key != "" {
		ctx = consistenthash.WithKey(ctx, key)
	}
	resp, err := client.SayHello(ctx, &greeterv1.SayHelloRequest{Name: name})
	if err != nil {
		fmt.Printf("call %d: %v\n", i, err)
		return
	}
	g := resp.GetGreeting()
	fmt.Printf("call %d: answered by %s (%s, zone %q): %s\n", i, g.GetInstanceId(), g.GetAddr(), g.GetZone(), g.GetMessage())
}
