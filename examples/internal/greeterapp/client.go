package greeterapp

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/resolver"

	// The policies register themselves when imported.
	"github.com/grpckit/grpckit/balancer/consistenthash"
	"github.com/grpckit/grpckit/balancer/outlier"
	"github.com/grpckit/grpckit/balancer/p2c"
	"github.com/grpckit/grpckit/balancer/wrr"
	"github.com/grpckit/grpckit/balancer/zoneaware"
	"github.com/grpckit/grpckit/interceptor/stack"
)

// HashHeader is the metadata header the consistent-hash configurations of
// ServiceConfig read the key from.
const HashHeader = "x-user-id"

// Balancers are the names ServiceConfig takes, in the order the demo runs
// them.
var Balancers = []string{"round_robin", "wrr", "consistenthash", "p2c", "zoneaware", "outlier"}

// ServiceConfig returns a service config selecting the named balancer:
// "round_robin" (grpc-go's), "wrr", "consistenthash" (keyed by HashHeader or
// consistenthash.WithKey), "p2c", "zoneaware" (local zone localZone, wrr
// inside each zone, so the local zone's backends share its calls by weight)
// or "outlier" (outlier ejection over wrr). lbConfig, when
// not empty, is the policy's JSON configuration in place of the default one.
func ServiceConfig(balancer, localZone, lbConfig string) (string, error) {
	var name, cfg string
	switch balancer {
	case "round_robin":
		name, cfg = "round_robin", `{}`
	case "wrr":
		name, cfg = wrr.Name, `{}`
	case "consistenthash":
		name, cfg = consistenthash.Name, fmt.Sprintf(`{"hashHeader":%q,"loadFactor":1.25}`, HashHeader)
	case "p2c":
		name, cfg = p2c.Name, `{}`
	case "zoneaware":
		name, cfg = zoneaware.Name, fmt.Sprintf(`{"localZone":%q,"childPolicy":[{%q:{}}]}`, localZone, wrr.Name)
	case "outlier":
		name, cfg = outlier.Name, fmt.Sprintf(`{"consecutiveFailures":5,"baseEjectionTime":"5s","childPolicy":[{%q:{}}]}`, wrr.Name)
	default:
		return "", fmt.Errorf("greeterapp: unknown balancer %q (want one of %s)", balancer, strings.Join(Balancers, ", "))
	}
	if lbConfig != "" {
		cfg = lbConfig
	}
	return fmt.Sprintf(`{"loadBalancingConfig":[{%q:%s}]}`, name, cfg), nil
}

// ClientConfig configures Dial.
type ClientConfig struct {
	// Service is the service to dial, "greeter" by default.
	Service string
	// Registry is where the service is resolved.
	Registry Registry
	// Balancer and LocalZone select the policy (see ServiceConfig);
	// Balancer defaults to "wrr".
	Balancer, LocalZone string
	// Resolver, when set, replaces Registry.Builder() (to wrap it, say).
	Resolver resolver.Builder
	// Stack configures the client interceptor stack (see stack.Client).
	Stack []stack.ClientOption
	// DialOptions are added after the ones Dial sets.
	DialOptions []grpc.DialOption
}

// Dial creates a client of the service through the registry's resolver, the
// chosen balancer and the recommended client stack. The connection is
// insecure: the examples run on loopback.
func Dial(cfg ClientConfig) (*grpc.ClientConn, error) {
	if err := cfg.Registry.validate(); err != nil {
		return nil, err
	}
	sc, err := ServiceConfig(cmp.Or(cfg.Balancer, "wrr"), cfg.LocalZone, "")
	if err != nil {
		return nil, err
	}
	opts, err := stack.Client(cfg.Stack...)
	if err != nil {
		return nil, fmt.Errorf("greeterapp: client stack: %w", err)
	}
	rb := cfg.Resolver
	if rb == nil {
		rb = cfg.Registry.Builder()
	}
	opts = append(opts,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithResolvers(rb),
		grpc.WithDefaultServiceConfig(sc),
		grpc.WithChainUnaryInterceptor(consistenthash.UnaryClientInterceptor()),
		grpc.WithChainStreamInterceptor(consistenthash.StreamClientInterceptor()),
	)
	opts = append(opts, cfg.DialOptions...)
	target := fmt.Sprintf("%s:///%s", cfg.Registry.Scheme(), cmp.Or(cfg.Service, "greeter"))
	return grpc.NewClient(target, slices.Clip(opts)...)
}
