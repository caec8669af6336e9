// Package lbconfig builds gRPC service configs that select a load-balancing
// policy, from typed values instead of hand-written JSON.
//
// Each grpckit policy package has a Policy function that takes options and
// returns a Policy: wrr.Policy, p2c.Policy, consistenthash.Policy, and, for
// the parent policies that wrap a child, zoneaware.Policy(child, ...) and
// outlier.Policy(child, ...). RoundRobin and PickFirst stand for grpc-go's
// own policies, as children or on their own; New builds any other registered
// policy from its JSON configuration.
//
// A Policy is validated when it is built: its JSON goes through the parser
// of the policy registered under its name, the one gRPC runs on the service
// config, so a Policy that was built is one the channel accepts, and a bad
// field is reported by the builder, with an error naming the field, rather
// than by grpc.NewClient. The common path is one line:
//
//	conn, err := grpc.NewClient("etcd:///greeter", grpc.WithResolvers(b), lbconfig.Must(p2c.Policy()).DialOption())
//
// A configuration read at run time keeps the error:
//
//	lb, err := outlier.Policy(lbconfig.RoundRobin(), outlier.WithBaseEjectionTime(d))
//	if err != nil {
//		return err
//	}
//	conn, err := grpc.NewClient(target, grpc.WithResolvers(b), lb.DialOption())
//
// A Policy marshals to its loadBalancingConfig entry, {"<name>":{...}}, so a
// service config with more in it (a retry policy, method timeouts) can embed
// it; see the example of ServiceConfig.
package lbconfig
