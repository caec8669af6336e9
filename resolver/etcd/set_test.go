package etcd

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/resolver"

	kitresolver "github.com/grpckit/grpckit/resolver"
)

// view flattens endpoints to "id@addr/weight" for comparison.
func view(eps []resolver.Endpoint) []string {
	out := make([]string, 0, len(eps))
	for _, ep := range eps {
		inst, _ := kitresolver.InstanceFrom(ep)
		out = append(out, fmt.Sprintf("%s@%s/%d", inst.ID, ep.Addresses[0].Addr, kitresolver.WeightOf(ep)))
	}
	return out
}

func TestInstanceSetSteps(t *testing.T) {
	in := func(id, addr string, w uint32) kitresolver.Instance {
		return kitresolver.Instance{ID: id, Service: "s", Addr: addr, Weight: w}
	}
	s := newInstanceSet()
	steps := []struct {
		name        string
		do          func() bool
		wantChanged bool
		want        []string
	}{
		{"add b", func() bool { return s.put(in("b", "h:2", 1)) }, true, []string{"b@h:2/1"}},
		{"add a before it", func() bool { return s.put(in("a", "h:1", 1)) }, true, []string{"a@h:1/1", "b@h:2/1"}},
		{"same value again", func() bool { return s.put(in("a", "h:1", 1)) }, false, []string{"a@h:1/1", "b@h:2/1"}},
		{"reweight a", func() bool { return s.put(in("a", "h:1", 5)) }, true, []string{"a@h:1/5", "b@h:2/1"}},
		{"duplicate address, larger id", func() bool { return s.put(in("z", "h:1", 9)) }, false, []string{"a@h:1/5", "b@h:2/1"}},
		{"move a away: z takes over", func() bool { return s.put(in("a", "h:3", 5)) }, true, []string{"z@h:1/9", "b@h:2/1", "a@h:3/5"}},
		{"remove unknown", func() bool { return s.remove("nope") }, false, []string{"z@h:1/9", "b@h:2/1", "a@h:3/5"}},
		{"remove b", func() bool { return s.remove("b") }, true, []string{"z@h:1/9", "a@h:3/5"}},
		{"remove z", func() bool { return s.remove("z") }, true, []string{"a@h:3/5"}},
		{"remove a", func() bool { return s.remove("a") }, true, []string{}},
	}
	for _, st := range steps {
		published := s.endpoints()
		before := view(published)
		if got := st.do(); got != st.wantChanged {
			t.Fatalf("%s: changed = %t, want %t", st.name, got, st.wantChanged)
		}
		if diff := cmp.Diff(st.want, view(s.endpoints())); diff != "" {
			t.Fatalf("%s: endpoints mismatch (-want +got):\n%s", st.name, diff)
		}
		if diff := cmp.Diff(before, view(published)); diff != "" {
			t.Fatalf("%s: modified a published slice (-before +after):\n%s", st.name, diff)
		}
	}
}

// TestInstanceSetMatchesEndpoints applies random changes and checks after
// each that the incremental result equals kitresolver.Endpoints of the
// whole set, which is what a re-list publishes.
func TestInstanceSetMatchesEndpoints(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	s := newInstanceSet()
	for step := range 5000 {
		id := fmt.Sprintf("i%d", r.IntN(40))
		if r.IntN(3) == 0 {
			s.remove(id)
		} else {
			s.put(kitresolver.Instance{ID: id, Service: "s", Addr: fmt.Sprintf("h:%d", 1+r.IntN(30)), Weight: uint32(r.IntN(4))})
		}
		if step%7 == 0 {
			s.endpoints() // hand the slice out now and then
		}
		want := view(kitresolver.Endpoints(s.instances()))
		if diff := cmp.Diff(want, view(s.endpoints())); diff != "" {
			t.Fatalf("step %d: incremental endpoints differ from a rebuild (-rebuild +incremental):\n%s", step, diff)
		}
	}
	fresh := newInstanceSet()
	fresh.reset(s.instances())
	if diff := cmp.Diff(view(s.endpoints()), view(fresh.endpoints())); diff != "" {
		t.Fatalf("reset differs from the incremental set (-incremental +reset):\n%s", diff)
	}
}
