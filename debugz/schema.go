package debugz

import "time"

// SchemaVersion is the value of Report.Schema. Fields may be added to the
// report under the same version; a field is never renamed, removed or given
// another meaning without a new version.
const SchemaVersion = "grpckit.debugz/v1"

// Report is the page's JSON document (?format=json), and the data its HTML
// shows. Lists are sorted (resolvers and balancers by target then id,
// breakers and limiters by name) and never null. Times are RFC 3339 in UTC;
// a time that never happened is omitted. Strings that come from outside the
// program (targets, instance fields, keys, errors) are cut at MaxStringLen
// bytes.
type Report struct {
	Schema      string         `json:"schema"`
	GeneratedAt time.Time      `json:"generated_at"`
	Resolvers   []ResolverView `json:"resolvers"`
	Balancers   []BalancerView `json:"balancers"`
	Breakers    []BreakerView  `json:"breakers"`
	Limiters    []LimiterView  `json:"limiters"`
}

// ResolverView is one resolver a Page.Builder builder built, that is one
// channel (or one channel's life between idle periods).
type ResolverView struct {
	// ID identifies the resolver on this page; a balancer of the same
	// channel names it in ResolverID.
	ID     uint64 `json:"id"`
	Target string `json:"target"`
	// Updates counts the states the resolver published.
	Updates uint64 `json:"updates"`
	// LastUpdate is when it last published; AgeSeconds is the time since.
	LastUpdate *time.Time `json:"last_update,omitempty"`
	AgeSeconds float64    `json:"age_seconds"`
	// Stale is true when the last state was served from a snapshot, the
	// registry not having answered (resolver.IsStale).
	Stale bool `json:"stale"`
	// LastError is the last error the resolver reported (ReportError), and
	// LastErrorAt when; Errors counts them. An error stays shown after a
	// later good update: compare LastErrorAt with LastUpdate.
	LastError   string     `json:"last_error,omitempty"`
	LastErrorAt *time.Time `json:"last_error_at,omitempty"`
	Errors      uint64     `json:"errors"`
	// Instances are the endpoints of the last state, by address.
	Instances []InstanceView `json:"instances"`
}

// InstanceView is one endpoint of a resolver's state. ID, Zone and Version
// come from the grpckit Instance the endpoint carries (resolver.InstanceFrom)
// and are empty when it carries none; Weight is resolver.WeightOf.
type InstanceView struct {
	ID      string `json:"id,omitempty"`
	Address string `json:"address"`
	Weight  uint32 `json:"weight"`
	Zone    string `json:"zone,omitempty"`
	Version string `json:"version,omitempty"`
}

// BalancerView is one channel's debugz policy: its child's aggregate state
// and each endpoint's.
type BalancerView struct {
	ID         uint64 `json:"id"`
	ResolverID uint64 `json:"resolver_id"`
	Target     string `json:"target"`
	// ChildPolicy is the name of the wrapped policy.
	ChildPolicy string `json:"child_policy"`
	// State is the channel's connectivity state as the child last set it
	// ("IDLE", "CONNECTING", "READY", "TRANSIENT_FAILURE", "SHUTDOWN").
	State string `json:"state"`
	// Picks counts every pick that returned a connection, InFlight the
	// calls picked and not done, over all endpoints.
	Picks    uint64 `json:"picks"`
	InFlight int64  `json:"in_flight"`
	// Serving counts the endpoints that are Serving.
	Serving   int            `json:"serving"`
	Endpoints []EndpointView `json:"endpoints"`
}

// EndpointView is one address of a balancer; ID is the id of the grpckit
// Instance the resolver gave for it, if any. State is its connection's
// connectivity state ("" before it has one). Picks and InFlight count the
// calls the channel sent it; Share is its part of Picks. Weight, Cost,
// EjectedUntil and Zone come from the child's picker when it implements
// EndpointDetailer (lbinfo.EndpointDetailer), including the details of the
// policies nested under it; ChildState from endpointsharding's child states
// when the child is built on it. EjectedUntil is set while a policy (outlier)
// holds the endpoint ejected, whatever its connection's State. Serving is
// true when the endpoint's State is READY and it is not ejected: the
// endpoints the channel may send calls to.
type EndpointView struct {
	Address      string     `json:"address"`
	ID           string     `json:"id,omitempty"`
	State        string     `json:"state"`
	ChildState   string     `json:"child_state,omitempty"`
	Picks        uint64     `json:"picks"`
	Share        float64    `json:"share"`
	InFlight     int64      `json:"in_flight"`
	Weight       float64    `json:"weight,omitempty"`
	Cost         float64    `json:"cost,omitempty"`
	EjectedUntil *time.Time `json:"ejected_until,omitempty"`
	Zone         string     `json:"zone,omitempty"`
	Serving      bool       `json:"serving"`
}

// BreakerView is one breaker.Group registered with Page.Breakers.
type BreakerView struct {
	Name string `json:"name"`
	// KeysTotal is how many keys the Group holds; Keys shows at most
	// the page's breaker key limit of them (WithMaxBreakerKeys): open ones
	// first, then half-open, then closed, each by failures.
	KeysTotal int              `json:"keys_total"`
	Keys      []BreakerKeyView `json:"keys"`
}

// BreakerKeyView is one breaker of a Group: its state ("closed",
// "half-open", "open") and counts (breaker.Counts).
type BreakerKeyView struct {
	Key                  string `json:"key"`
	State                string `json:"state"`
	Requests             uint32 `json:"requests"`
	TotalSuccesses       uint32 `json:"total_successes"`
	TotalFailures        uint32 `json:"total_failures"`
	ConsecutiveSuccesses uint32 `json:"consecutive_successes"`
	ConsecutiveFailures  uint32 `json:"consecutive_failures"`
}

// LimiterView is one limiter wrapped by Page.Limiter. Admitted and Rejected
// count every decision exactly. TopKeys are the keys with the most
// rejections as a space-saving summary of TopKeysSize entries estimates them
// (see TopKey); Sampled is false for decisions the summary missed because
// another goroutine held it (SkippedSamples counts them).
type LimiterView struct {
	Name           string   `json:"name"`
	Admitted       uint64   `json:"admitted"`
	Rejected       uint64   `json:"rejected"`
	SkippedSamples uint64   `json:"skipped_samples"`
	TopKeys        []TopKey `json:"top_keys"`
}

// TopKey is a key of a limiter's summary. Rejected over-counts by at most
// RejectedError (space-saving's bound: the count of the key it replaced);
// Admitted counts the admissions since the key entered the summary.
type TopKey struct {
	Key           string `json:"key"`
	Rejected      uint64 `json:"rejected"`
	RejectedError uint64 `json:"rejected_error"`
	Admitted      uint64 `json:"admitted"`
}
