// Package debugz serves a live debug page of what grpckit decides: each
// resolver's instance set and its last error, each channel's balancer
// endpoints with their state, picks and calls in flight, each breaker's
// state and counts, and each limiter's keys with the most rejections.
//
// A Page is an http.Handler: HTML for people (server-rendered, no
// JavaScript, reloading itself, every string escaped) and JSON at
// ?format=json, whose stable schema is the Report type (SchemaVersion).
// Nothing is tracked unless it is registered with the page:
//
//	page := debugz.New()
//	lb := lbconfig.Must(debugz.Policy(lbconfig.Must(p2c.Policy())))
//	cc, err := grpc.NewClient("etcd:///greeter",
//		grpc.WithResolvers(page.Builder(etcd.NewBuilder(cli))), // resolvers
//		lb.DialOption(),                                        // balancers
//		...)
//	unregister := page.Breakers("client", group)              // breakers
//	limiter := page.Limiter("server", tokenBucket)             // limiters
//	http.Handle("/debugz", page)
//
// Page.Builder wraps a resolver builder: each resolver it builds is shown
// until the channel closes it, and the states it passes on carry an
// attribute naming the page. The debugz balancer policy (PolicyName, built
// with Policy) wraps any child policy; on a channel whose resolver
// Page.Builder wrapped it shows itself on that page, and goes when the
// channel closes it. On other channels it passes the child's pickers on
// unwrapped, counting nothing. A
// child whose picker implements EndpointDetailer (lbinfo.EndpointDetailer)
// adds its per-endpoint details (weight, cost, ejection, zone), read when
// the page renders; a parent policy's picker includes its own child's
// (lbinfo.Merge), so under debugz{outlier{wrr}} the page shows outlier's
// ejections beside wrr's weights. An ejected endpoint is shown as ejected
// until its return, whatever its connection's state, and is not counted as
// serving (BalancerView.Serving).
//
// A channel in idle mode (grpc.WithIdleTimeout) has closed its resolver and
// balancer: it leaves the page, and comes back when a call wakes it.
//
// Mount the page on an address only operators reach: it shows addresses,
// keys and errors of the running service.
package debugz
