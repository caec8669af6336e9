package debugz

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/grpckit/grpckit/interceptor/breaker"
)

// Breakers shows the breakers of g under name, read when the page is
// rendered (Group.Keys, State and Counts): the page adds nothing to g's
// calls. Registering another Group under the same name replaces it. The
// returned function removes it from the page; it is safe to call more than
// once.
//
// A nil g is a programming error: Breakers panics, naming name.
func (p *Page) Breakers(name string, g *breaker.Group) (unregister func()) {
	if g == nil {
		panic(fmt.Sprintf("debugz: Breakers(%q, nil): no breaker group to show", name))
	}
	e := &breakerEntry{name: name, group: g}
	p.mu.Lock()
	p.breakers[name] = e
	p.mu.Unlock()
	return func() {
		p.mu.Lock()
		if p.breakers[name] == e {
			delete(p.breakers, name)
		}
		p.mu.Unlock()
	}
}

type breakerEntry struct {
	name  string
	group *breaker.Group
}

// stateRank orders keys for the page: open first.
func stateRank(s breaker.State) int {
	switch s {
	case breaker.StateOpen:
		return 0
	case breaker.StateHalfOpen:
		return 1
	default:
		return 2
	}
}

func (e *breakerEntry) view(limit int) BreakerView {
	keys := e.group.Keys()
	v := BreakerView{Name: clip(e.name), KeysTotal: len(keys)}
	type keyState struct {
		key    string
		state  breaker.State
		counts breaker.Counts
	}
	all := make([]keyState, 0, len(keys))
	for _, k := range keys {
		all = append(all, keyState{k, e.group.State(k), e.group.Counts(k)})
	}
	slices.SortFunc(all, func(a, b keyState) int {
		return cmp.Or(
			cmp.Compare(stateRank(a.state), stateRank(b.state)),
			cmp.Compare(b.counts.TotalFailures, a.counts.TotalFailures),
			cmp.Compare(a.key, b.key))
	})
	v.Keys = make([]BreakerKeyView, 0, min(len(all), limit))
	for _, k := range all[:min(len(all), limit)] {
		v.Keys = append(v.Keys, BreakerKeyView{
			Key:                  clip(k.key),
			State:                k.state.String(),
			Requests:             k.counts.Requests,
			TotalSuccesses:       k.counts.TotalSuccesses,
			TotalFailures:        k.counts.TotalFailures,
			ConsecutiveSuccesses: k.counts.ConsecutiveSuccesses,
			ConsecutiveFailures:  k.counts.ConsecutiveFailures,
		})
	}
	return v
}
