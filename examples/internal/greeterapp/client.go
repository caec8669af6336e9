package greeterapp

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/resolver"

	"github.com/grpckit/grpckit/balancer/consistenthash"
	"github.com/grpckit/grpckit/balancer/lbconfig"
	"github.com/grpckit/grpckit/balancer/outlier"
	"github.com/grpckit/grpckit/balancer/p2c"
	"github.com/grpckit/grpckit/balancer/wrr"
	"github.com/grpckit/grpckit/balancer/zoneaware"
	"github.com/grpckit/grpckit/debugz"
	"github.com/grpckit/grpckit/interceptor/stack"
)

// HashHeader is the metadata header the consistent-hash policy of Policy
// reads the key from.
const HashHeader = "x-user-id"

// Balancers are the names Policy takes, in the order the demo runs them.
var Balancers = []string{"round_robin", "wrr", "consistenthash", "p2c", "zoneaware", "outlier"}

// Policy returns the load-balancing policy named by balancer, built with
// the policy packages' typed builders: "round_robin" (grpc-go's), "wrr",
// "consistenthash" (keyed by HashHeader or consistenthash.WithKey, loads
// bounded at 1.25× the mean), "p2c", "zoneaware" (local zone localZone, wrr
// inside each zone, so the local zone's backends share its calls by weight)
// or "outlier" (outlier ejection over wrr, after 5 failures in a row, for 5s
// at first).
func Policy(balancer, localZone string) (lbconfig.Policy, error) {
	switch balancer {
	case "round_robin":
		return lbconfig.RoundRobin(), nil
	case "wrr":
		return wrr.Policy()
	case "consistenthash":
		return consistenthash.Policy(consistenthash.WithHashHeader(HashHeader), consistenthash.WithLoadFactor(1.25))
	case "p2c":
		return p2c.Policy()
	case "zoneaware":
		return zoneaware.Policy(lbconfig.Must(wrr.Policy()), zoneaware.WithLocalZone(localZone))
	case "outlier":
		return outlier.Policy(lbconfig.Must(wrr.Policy()),
			outlier.WithConsecutiveFailures(5), outlier.WithBaseEjectionTime(5*time.Second))
	}
	return lbconfig.Policy{}, fmt.Errorf("greeterapp: unknown balancer %q (want one of %s)", balancer, strings.Join(Balancers, ", "))
}

// ClientConfig configures Dial.
type ClientConfig struct {
	// Service is the service to dial, "greeter" by default.
	Service string
	// Registry is where the service is resolved.
	Registry Registry
	// Policy is the load-balancing policy. When it is the zero Policy,
	// Balancer and LocalZone select one (see Policy); Balancer defaults to
	// "wrr".
	Policy              lbconfig.Policy
	Balancer, LocalZone string
	// Resolver, when set, replaces Registry.Builder() (to wrap it, say).
	Resolver resolver.Builder
	// Stack configures the client interceptor stack (see stack.Client).
	Stack []stack.ClientOption
	// DialOptions are added after the ones Dial sets.
	DialOptions []grpc.DialOption
	// Debug, when set, shows the channel on that debug page: its resolver
	// through Debug.Builder, its balancer through the debugz policy
	// wrapping Policy.
	Debug *debugz.Page
}

// Dial creates a client of the service through the registry's resolver, the
// chosen balancer and the recommended client stack. The connection is
// insecure: the examples run on loopback.
func Dial(cfg ClientConfig) (*grpc.ClientConn, error) {
	if err := cfg.Registry.validate(); err != nil {
		return nil, err
	}
	lb := cfg.Policy
	if lb.IsZero() {
		var err error
		if lb, err = Policy(cmp.Or(cfg.Balancer, "wrr"), cfg.LocalZone); err != nil {
			return nil, err
		}
	}
	opts, err := stack.Client(cfg.Stack...)
	if err != nil {
		return nil, fmt.Errorf("greeterapp: client stack: %w", err)
	}
	rb := cfg.Resolver
	if rb == nil {
		rb = cfg.Registry.Builder()
	}
	if cfg.Debug != nil {
		rb = cfg.Debug.Builder(rb)
		if lb, err = debugz.Policy(lb); err != nil {
			return nil, err
		}
	}
	opts = append(opts,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithResolvers(rb),
		lb.DialOption(),
		grpc.WithChainUnaryInterceptor(consistenthash.UnaryClientInterceptor()),
		grpc.WithChainStreamInterceptor(consistenthash.StreamClientInterceptor()),
	)
	opts = append(opts, cfg.DialOptions...)
	target := fmt.Sprintf("%s:///%s", cfg.Registry.Scheme(), cmp.Or(cfg.Service, "greeter"))
	return grpc.NewClient(target, slices.Clip(opts)...)
}
