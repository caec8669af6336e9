package shedding

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"
)

// TestAdmitHeaderAllocs: while shedding, a call with the criticality header
// allocates nothing when its criticality cannot change the decision: the
// schedule has room for any call, or none even for a critical one.
func TestAdmitHeaderAllocs(t *testing.T) {
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs(CriticalityHeader, "Critical"))
	l, c, p := newFake()
	overload(l, c, p)
	l.windowEnd.Store(math.MaxInt64) // the rate holds
	interval := l.interval.Load()
	c.advance(time.Second) // the schedule is behind the clock
	if n := testing.AllocsPerRun(1000, func() {
		c.ns.Add(interval) // one call per interval: each is admitted
		if !l.allow(ctx, c.now()) {
			t.Fatal("a call at the rate was shed")
		}
	}); n != 0 {
		t.Errorf("%v allocations per call admitted at the rate, want 0", n)
	}
	if l.interval.Load() == 0 {
		t.Fatal("the limiter stood down")
	}
	saturate(t, l, c, p)
	if n := testing.AllocsPerRun(1000, func() {
		if l.allow(ctx, c.now()) {
			t.Fatal("a call beyond a critical call's tolerance was admitted")
		}
	}); n != 0 {
		t.Errorf("%v allocations per call shed beyond any tolerance, want 0", n)
	}
}

// TestAdmitModel: reading the criticality lazily decides every call as the
// generic cell rate algorithm does with the criticality known: admitted iff
// max(tat, now) + T − now ≤ τ(c) + T, and then tat moves to max(tat, now) + T.
func TestAdmitModel(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 100000 {
		l, _, _ := newFake()
		interval := r.Int64N(int64(time.Millisecond)) + 1
		tol := r.Int64N(int64(10 * time.Millisecond))
		l.interval.Store(interval)
		l.tolerance[Sheddable+1].Store(0)
		l.tolerance[Default+1].Store(tol)
		l.tolerance[Critical+1].Store(4 * tol)
		now := r.Int64N(int64(time.Second))
		tat := now + r.Int64N(int64(60*time.Millisecond)) - int64(10*time.Millisecond)
		l.tat.Store(tat)
		crit := Criticality(r.IntN(3) - 1)
		ctx := WithCriticality(context.Background(), crit)
		if i%2 == 0 {
			ctx = metadata.NewIncomingContext(context.Background(), metadata.Pairs(CriticalityHeader, crit.String()))
		}
		next := max(tat, now) + interval
		want := next-now <= l.tolerance[crit+1].Load()+interval
		wantTat := tat
		if want {
			wantTat = next
		}
		if got := l.admitFrom(ctx, now, unknownCriticality); got != want || l.tat.Load() != wantTat {
			t.Fatalf("T=%d τ=%d now=%d tat=%d %v: admitted %v tat %d, want %v tat %d",
				interval, tol, now, tat, crit, got, l.tat.Load(), want, wantTat)
		}
	}
}
