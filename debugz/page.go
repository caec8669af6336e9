package debugz

import (
	"cmp"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// MaxStringLen is the length in bytes at which the page cuts strings that
// come from outside the program (targets, instance fields, breaker and
// limiter keys, errors), so that a hostile registry entry or request key
// cannot make the page huge.
const MaxStringLen = 256

// DefaultRefresh is how often the HTML page reloads itself.
const DefaultRefresh = 5 * time.Second

// DefaultMaxBreakerKeys is how many keys of each breaker Group the page
// shows.
const DefaultMaxBreakerKeys = 100

// Page is an http.Handler that shows what the registered resolvers,
// balancers, breakers and limiters decide: HTML for people, JSON (Report)
// at ?format=json. It tracks only what is registered with it, and forgets a
// channel's resolver and balancer when they close.
//
// A Page is safe for concurrent use. Its zero value is not usable: call New.
type Page struct {
	refresh        time.Duration
	maxBreakerKeys int
	now            func() time.Time

	nextID atomic.Uint64

	mu        sync.Mutex
	resolvers map[*resolverEntry]struct{}
	balancers map[*balancerEntry]struct{}
	breakers  map[string]*breakerEntry
	limiters  map[string]*limiter
}

// Option configures New.
type Option func(*Page)

// WithRefresh sets how often the HTML page reloads itself (default
// DefaultRefresh); 0 or less turns reloading off.
func WithRefresh(d time.Duration) Option { return func(p *Page) { p.refresh = d } }

// WithMaxBreakerKeys sets how many keys of each breaker Group the page shows
// (default DefaultMaxBreakerKeys); values below 1 are taken as 1.
func WithMaxBreakerKeys(n int) Option {
	return func(p *Page) { p.maxBreakerKeys = max(n, 1) }
}

// WithClock makes the page read the time from now (for tests).
func WithClock(now func() time.Time) Option { return func(p *Page) { p.now = now } }

// New returns an empty Page configured by opts.
func New(opts ...Option) *Page {
	p := &Page{
		refresh:        DefaultRefresh,
		maxBreakerKeys: DefaultMaxBreakerKeys,
		now:            time.Now,
		resolvers:      make(map[*resolverEntry]struct{}),
		balancers:      make(map[*balancerEntry]struct{}),
		breakers:       make(map[string]*breakerEntry),
		limiters:       make(map[string]*limiter),
	}
	for _, o := range opts {
		if o != nil {
			o(p)
		}
	}
	return p
}

// ServeHTTP serves the HTML page, or the JSON Report when the query has
// format=json. Only GET and HEAD are allowed.
func (p *Page) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "debugz: method not allowed", http.StatusMethodNotAllowed)
		return
	}
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	rep := p.Report()
	if r.URL.Query().Get("format") == "json" {
		writeJSON(w, rep)
		return
	}
	p.writeHTML(w, rep)
}

// Report returns what the page shows now.
func (p *Page) Report() Report {
	now := p.now()
	p.mu.Lock()
	res := mapKeys(p.resolvers)
	bals := mapKeys(p.balancers)
	brs := mapValues(p.breakers)
	lims := mapValues(p.limiters)
	p.mu.Unlock()

	rep := Report{
		Schema:      SchemaVersion,
		GeneratedAt: now.UTC(),
		Resolvers:   make([]ResolverView, 0, len(res)),
		Balancers:   make([]BalancerView, 0, len(bals)),
		Breakers:    make([]BreakerView, 0, len(brs)),
		Limiters:    make([]LimiterView, 0, len(lims)),
	}
	for _, e := range res {
		rep.Resolvers = append(rep.Resolvers, e.view(now))
	}
	slices.SortFunc(rep.Resolvers, func(a, b ResolverView) int {
		return cmp.Or(cmp.Compare(a.Target, b.Target), cmp.Compare(a.ID, b.ID))
	})
	for _, e := range bals {
		rep.Balancers = append(rep.Balancers, e.view())
	}
	slices.SortFunc(rep.Balancers, func(a, b BalancerView) int {
		return cmp.Or(cmp.Compare(a.Target, b.Target), cmp.Compare(a.ID, b.ID))
	})
	for _, e := range brs {
		rep.Breakers = append(rep.Breakers, e.view(p.maxBreakerKeys))
	}
	slices.SortFunc(rep.Breakers, func(a, b BreakerView) int { return cmp.Compare(a.Name, b.Name) })
	for _, l := range lims {
		rep.Limiters = append(rep.Limiters, l.view())
	}
	slices.SortFunc(rep.Limiters, func(a, b LimiterView) int { return cmp.Compare(a.Name, b.Name) })
	return rep
}

func mapKeys[K comparable, V any](m map[K]V) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func mapValues[K comparable, V any](m map[K]V) []V {
	out := make([]V, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// clip cuts s at MaxStringLen bytes, on a rune boundary, marking the cut.
func clip(s string) string {
	if len(s) <= MaxStringLen {
		return s
	}
	cut := MaxStringLen
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// timePtr returns &t in UTC, or nil for the zero time.
func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}
