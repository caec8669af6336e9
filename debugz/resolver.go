package debugz

import (
	"cmp"
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc/attributes"
	"google.golang.org/grpc/resolver"

	kitresolver "github.com/grpckit/grpckit/resolver"
)

// Builder returns a resolver.Builder that builds b's resolvers and shows each
// on the page while it is open: its target, the instances of its last state,
// whether that state is stale, when it came and the last error. The entry
// goes when the channel closes the resolver.
//
// The states it passes on carry an attribute naming the page and the
// resolver, by which the channel's debugz balancer policy (PolicyName), if
// the channel uses one, shows itself on the same page.
//
// A nil b is a programming error: Builder panics.
func (p *Page) Builder(b resolver.Builder) resolver.Builder {
	if b == nil {
		panic("debugz: Builder(nil): no resolver builder to wrap")
	}
	return &builder{Builder: b, page: p}
}

type builder struct {
	resolver.Builder
	page *Page
}

func (b *builder) Build(t resolver.Target, cc resolver.ClientConn, opts resolver.BuildOptions) (resolver.Resolver, error) {
	e := &resolverEntry{id: b.page.nextID.Add(1), target: t.String()}
	e.tag = &channelTag{page: b.page, target: e.target, resolverID: e.id}
	wcc := &clientConn{ClientConn: cc, entry: e}
	b.page.addResolver(e)
	r, err := b.Builder.Build(t, wcc, opts)
	if err != nil {
		b.page.removeResolver(e)
		return nil, err
	}
	return &wrappedResolver{Resolver: r, page: b.page, entry: e}, nil
}

func (p *Page) addResolver(e *resolverEntry) {
	p.mu.Lock()
	p.resolvers[e] = struct{}{}
	p.mu.Unlock()
}

func (p *Page) removeResolver(e *resolverEntry) {
	p.mu.Lock()
	delete(p.resolvers, e)
	p.mu.Unlock()
}

type wrappedResolver struct {
	resolver.Resolver
	page  *Page
	entry *resolverEntry
}

func (r *wrappedResolver) Close() {
	r.Resolver.Close()
	r.page.removeResolver(r.entry)
}

// channelTag is the attribute value a Page.Builder resolver adds to the
// states it passes on.
type channelTag struct {
	page       *Page
	target     string
	resolverID uint64
}

type channelTagKey struct{}

// tagFrom returns the tag of s, or nil.
func tagFrom(s resolver.State) *channelTag {
	t, _ := s.Attributes.Value(channelTagKey{}).(*channelTag)
	return t
}

// clientConn is the ClientConn the wrapped resolver gets: it records what
// passes through it.
type clientConn struct {
	resolver.ClientConn
	entry *resolverEntry
}

func (c *clientConn) UpdateState(s resolver.State) error {
	c.entry.update(s)
	if s.Attributes == nil {
		s.Attributes = attributes.New(channelTagKey{}, c.entry.tag)
	} else {
		s.Attributes = s.Attributes.WithValue(channelTagKey{}, c.entry.tag)
	}
	return c.ClientConn.UpdateState(s)
}

func (c *clientConn) ReportError(err error) {
	c.entry.reportError(err)
	c.ClientConn.ReportError(err)
}

// RegistryError records a registry error the resolver keeps from the
// channel (see kitresolver.ErrorObserver): the channel serves the instances
// it has, and the page shows the outage.
func (c *clientConn) RegistryError(err error) { c.entry.reportError(err) }

var _ kitresolver.ErrorObserver = (*clientConn)(nil)

// resolverEntry is one resolver's record. mu guards the fields below it.
type resolverEntry struct {
	id     uint64
	target string
	tag    *channelTag

	mu          sync.Mutex
	updates     uint64
	lastUpdate  time.Time
	stale       bool
	endpoints   []resolver.Endpoint
	errors      uint64
	lastErr     string
	lastErrTime time.Time
}

func (e *resolverEntry) update(s resolver.State) {
	eps := s.Endpoints
	if len(eps) == 0 && len(s.Addresses) > 0 {
		for _, a := range s.Addresses {
			eps = append(eps, resolver.Endpoint{Addresses: []resolver.Address{a}})
		}
	}
	e.mu.Lock()
	e.updates++
	e.lastUpdate = e.tag.page.now()
	e.stale = kitresolver.IsStale(s)
	e.endpoints = eps
	e.mu.Unlock()
}

func (e *resolverEntry) reportError(err error) {
	msg := "<nil>"
	if err != nil {
		msg = clip(err.Error())
	}
	e.mu.Lock()
	e.errors++
	e.lastErr, e.lastErrTime = msg, e.tag.page.now()
	e.mu.Unlock()
}

func (e *resolverEntry) view(now time.Time) ResolverView {
	e.mu.Lock()
	v := ResolverView{
		ID:          e.id,
		Target:      clip(e.target),
		Updates:     e.updates,
		LastUpdate:  timePtr(e.lastUpdate),
		Stale:       e.stale,
		Errors:      e.errors,
		LastError:   e.lastErr,
		LastErrorAt: timePtr(e.lastErrTime),
	}
	eps := e.endpoints
	last := e.lastUpdate
	e.mu.Unlock()
	if !last.IsZero() {
		v.AgeSeconds = max(now.Sub(last).Seconds(), 0)
	}
	v.Instances = make([]InstanceView, 0, len(eps))
	for _, ep := range eps {
		v.Instances = append(v.Instances, instanceView(ep))
	}
	slices.SortFunc(v.Instances, func(a, b InstanceView) int {
		return cmp.Or(cmp.Compare(a.Address, b.Address), cmp.Compare(a.ID, b.ID))
	})
	return v
}

func instanceView(ep resolver.Endpoint) InstanceView {
	v := InstanceView{Weight: kitresolver.WeightOf(ep)}
	if len(ep.Addresses) > 0 {
		v.Address = clip(ep.Addresses[0].Addr)
	}
	if inst, ok := kitresolver.InstanceFrom(ep); ok {
		v.ID, v.Zone, v.Version = clip(inst.ID), clip(inst.Zone), clip(inst.Version)
		if inst.Addr != "" {
			v.Address = clip(inst.Addr)
		}
	}
	return v
}
