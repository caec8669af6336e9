package tracing

import (
	"net"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
)

// tracers finds the tracer for an RPC: the configured provider's, or the
// global provider's, looked up per RPC and cached while it stays the same.
type tracers struct {
	fixed  *tracerEntry // from WithTracerProvider; nil means the global one
	global atomic.Pointer[tracerEntry]
}

func newTracers(cfg *config) *tracers {
	t := &tracers{}
	if cfg.provider != nil {
		t.fixed = newTracerEntry(cfg.provider)
	}
	return t
}

// get returns the entry of the provider in use for this RPC.
func (t *tracers) get() *tracerEntry {
	if t.fixed != nil {
		return t.fixed
	}
	tp := otel.GetTracerProvider()
	// Only comparable providers are cached, so this == cannot panic.
	if e := t.global.Load(); e != nil && e.provider == tp {
		return e
	}
	e := newTracerEntry(tp)
	if reflect.TypeOf(tp).Comparable() {
		t.global.Store(e)
	}
	return e
}

// rpcSide is what the interceptors of one side (client or server) share:
// the configuration, the tracer lookup and what is precomputed per method
// and per connection. Nothing in it is built for an RPC whose span does not
// record.
type rpcSide struct {
	cfg     *config
	kind    trace.SpanKind
	tracers *tracers
	starts  []trace.SpanStartOption
	mode    semconvMode
	methods methodCache
	local   peerCache // server: the address the call came in on
	remote  peerCache // client: the backend; server: the caller
}

func newRPCSide(kind trace.SpanKind, opts []Option) *rpcSide {
	cfg := newConfig(opts)
	return &rpcSide{
		cfg:     cfg,
		kind:    kind,
		tracers: newTracers(cfg),
		// As with the stats handler, a sampler sees the span's name and
		// kind; the attributes are set once the span is known to record.
		starts: []trace.SpanStartOption{trace.WithSpanKind(kind)},
		mode:   semconvModeFromEnv(),
	}
}

// method returns what is precomputed for fullMethod.
func (s *rpcSide) method(fullMethod string) *methodInfo {
	return s.methods.get(fullMethod, s.mode)
}

// keep reports whether the filter lets the RPC of fullMethod be traced.
func (s *rpcSide) keep(fullMethod string) bool {
	return s.cfg.filter == nil || s.cfg.filter(s.method(fullMethod).tag)
}

// semconvMode is the set of RPC semantic conventions recorded, chosen as
// otelgrpc does with OTEL_SEMCONV_STABILITY_OPT_IN.
type semconvMode int

const (
	semconvNew semconvMode = iota // rpc.system.name, rpc.method = service/method
	semconvOld                    // "rpc/old": rpc.system, rpc.service, rpc.method = method
	semconvDup                    // "rpc/dup": both
)

func semconvModeFromEnv() semconvMode {
	for p := range strings.SplitSeq(os.Getenv("OTEL_SEMCONV_STABILITY_OPT_IN"), ",") {
		switch strings.TrimSpace(p) {
		case "rpc/dup":
			return semconvDup
		case "rpc/old":
			return semconvOld
		}
	}
	return semconvNew
}

// methodInfo is what a span of one method gets regardless of the call.
type methodInfo struct {
	attrs []attribute.KeyValue
	tag   *stats.RPCTagInfo // handed to the filter
}

// maxMethods bounds the cache of methodInfo: a server with an unknown
// service handler sees whatever methods its callers make up.
const maxMethods = 1024

// methodCache keeps the methodInfo of up to maxMethods full methods.
type methodCache struct {
	m sync.Map // full method -> *methodInfo
	n atomic.Int32
}

func (c *methodCache) get(fullMethod string, mode semconvMode) *methodInfo {
	if v, ok := c.m.Load(fullMethod); ok {
		return v.(*methodInfo)
	}
	mi := &methodInfo{attrs: methodAttrs(fullMethod, mode), tag: &stats.RPCTagInfo{FullMethodName: fullMethod}}
	// Reserve a place before storing, so that concurrent callers cannot all
	// pass the bound's check and store past it.
	if c.n.Load() >= maxMethods || c.n.Add(1) > maxMethods {
		return mi
	}
	if v, loaded := c.m.LoadOrStore(fullMethod, mi); loaded {
		c.n.Add(-1)
		return v.(*methodInfo)
	}
	return mi
}

// methodAttrs returns the attributes otelgrpc gives a span of fullMethod.
func methodAttrs(fullMethod string, mode semconvMode) []attribute.KeyValue {
	if !strings.HasPrefix(fullMethod, "/") {
		if mode != semconvOld {
			return []attribute.KeyValue{semconv.RPCSystemNameGRPC}
		}
		return nil // otelgrpc gives no attribute at all here
	}
	name := fullMethod[1:]
	current := []attribute.KeyValue{semconv.RPCMethod(name), semconv.RPCSystemNameGRPC}
	if mode == semconvNew {
		return current
	}
	var old []attribute.KeyValue
	if service, method, ok := strings.Cut(name, "/"); ok {
		old = []attribute.KeyValue{
			attribute.String("rpc.system", "grpc"),
			attribute.String("rpc.service", service),
			attribute.String("rpc.method", strings.SplitN(method, "/", 2)[0]),
		}
	} else {
		old = []attribute.KeyValue{attribute.String("rpc.system", "grpc")}
	}
	if mode == semconvOld {
		return old
	}
	return append(old, current...) // the current rpc.method wins
}

// statusAttrs holds rpc.response.status_code for every gRPC code, so ending
// a span builds no string.
var statusAttrs = func() [codes.Unauthenticated + 1]attribute.KeyValue {
	var a [codes.Unauthenticated + 1]attribute.KeyValue
	for c := range a {
		a[c] = semconv.RPCResponseStatusCode(canonicalCode(codes.Code(c)))
	}
	return a
}()

func statusAttr(c codes.Code) attribute.KeyValue {
	if int(c) < len(statusAttrs) {
		return statusAttrs[c]
	}
	return semconv.RPCResponseStatusCode(canonicalCode(c))
}

// codeNames are the names of the gRPC status codes in the status code
// table, as the semantic conventions record them.
var codeNames = [...]string{
	codes.OK: "OK", codes.Canceled: "CANCELLED", codes.Unknown: "UNKNOWN",
	codes.InvalidArgument: "INVALID_ARGUMENT", codes.DeadlineExceeded: "DEADLINE_EXCEEDED",
	codes.NotFound: "NOT_FOUND", codes.AlreadyExists: "ALREADY_EXISTS",
	codes.PermissionDenied: "PERMISSION_DENIED", codes.ResourceExhausted: "RESOURCE_EXHAUSTED",
	codes.FailedPrecondition: "FAILED_PRECONDITION", codes.Aborted: "ABORTED",
	codes.OutOfRange: "OUT_OF_RANGE", codes.Unimplemented: "UNIMPLEMENTED",
	codes.Internal: "INTERNAL", codes.Unavailable: "UNAVAILABLE", codes.DataLoss: "DATA_LOSS",
	codes.Unauthenticated: "UNAUTHENTICATED",
}

func canonicalCode(c codes.Code) string {
	if int(c) < len(codeNames) {
		return codeNames[c]
	}
	return "CODE(" + strconv.FormatUint(uint64(c), 10) + ")"
}

// end sets the span's status and status code attribute from err, as
// otelgrpc does for the side, and ends it.
func (s *rpcSide) end(span trace.Span, err error) {
	if err == nil {
		span.SetAttributes(statusAttrs[codes.OK])
		span.End()
		return
	}
	st, _ := status.FromError(err)
	if s.kind == trace.SpanKindClient || serverError(st.Code()) {
		span.SetStatus(otelcodes.Error, st.Message())
	}
	span.SetAttributes(statusAttr(st.Code()))
	span.End()
}

// serverError reports whether a server span with code is in error: only
// the codes that say the server failed, as the semantic conventions ask.
func serverError(c codes.Code) bool {
	switch c {
	case codes.Unknown, codes.DeadlineExceeded, codes.Unimplemented,
		codes.Internal, codes.Unavailable, codes.DataLoss:
		return true
	}
	return false
}

// serverAddrAttrs returns server.address and, when it has one, server.port
// of addr.
func serverAddrAttrs(addr net.Addr) []attribute.KeyValue {
	host, port, ok := splitAddr(addr)
	if !ok {
		return []attribute.KeyValue{semconv.ServerAddress(host)}
	}
	return []attribute.KeyValue{semconv.ServerAddress(host), semconv.ServerPort(port)}
}

// backendAttrs returns what a client span says of the backend the balancer
// picked: server.address and server.port as otelgrpc sets them from the
// connection's remote address, and network.peer.address and .port.
func backendAttrs(addr net.Addr) []attribute.KeyValue {
	return append(serverAddrAttrs(addr), peerAttrs(addr)...)
}

// splitAddr splits addr into host and numeric port; ok is false, and host
// the whole address or its host part, when there is no numeric port.
func splitAddr(addr net.Addr) (host string, port int, ok bool) {
	s := addr.String()
	h, p, err := net.SplitHostPort(s)
	if err != nil {
		return s, 0, false
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		return h, 0, false
	}
	return h, n, true
}
