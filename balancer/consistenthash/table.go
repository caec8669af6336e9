package consistenthash

import (
	"cmp"
	"math/bits"
	"slices"
	"sync"
)

// Why a table of rendezvous winners.
//
// The policy promises three things at once: that adding, removing or
// reweighting one endpoint moves only keys to or from that endpoint, at every
// fleet size; near-perfect balance (max/mean share <= 1.05 at 100
// endpoints); and a Pick that costs one table read. The earlier design, a
// hash ring rendered into the table with 2^unit virtual nodes per unit of
// weight, broke the first promise: unit followed the total weight, so
// crossing a power of two (4 -> 5 endpoints, 8 -> 9) halved or doubled every
// endpoint's virtual nodes and moved about a quarter of the keys between
// endpoints that stayed. Any scheme that scales the endpoints' shares of
// hash space by the total does the same.
//
// The table has a fixed number of slots (ringSize, a power of two); a key's
// hash selects a slot by its top bits. Each slot belongs to the winner of a
// weighted race among all endpoints, and an endpoint's time in the race at a
// slot depends only on its own address and weight, never on the others:
// endpoint e draws a stream of slots p_e(0), p_e(1), ... from a hash of its
// address; its k-th draw happens at time (k+1)/w_e; its time at slot s is the
// time of its first draw that lands on s. The slot goes to the endpoint with
// the earliest time (ties, rare, to the lower address). So:
//
//   - adding endpoint j only gives it the slots where it is earliest; removing
//     it only hands its own slots to the runners-up; raising (lowering) its
//     weight only makes it earlier (later), so slots only move to (from) it.
//     No key moves between two other endpoints, whatever N is. This is
//     rendezvous (highest-random-weight) hashing at slot resolution, and it
//     does not depend on the scale of the weights (x100 gives the same table).
//   - as a draw lands on one of ringSize slots, the first-draw times are
//     geometric, close to exponential with rate w_e/ringSize, and endpoint e
//     wins a slot with probability w_e/W. Slots are won independently, so an
//     endpoint's share is binomial: its relative spread is about
//     sqrt(N/ringSize) for N endpoints of equal weight, and the busiest sits
//     about 2 to 2.6 of those above the mean. Measured max/mean shares: 1.003
//     at 10 endpoints and 1.024 at 100 with the default 2^19 slots (ten other
//     fleets of 100: 1.026 on average, 1.032 at worst); 1.042 at 1000 with
//     2^22. The default keeps 1.05 up to about 300 endpoints of equal weight.
//   - memory is the table, whatever the weights: 1 byte a slot up to 256
//     endpoints (512 KiB by default), 2 bytes beyond (1 MiB by default, 8 MiB
//     at 2^22). The whole policy holds about 0.55 MB per channel at 10
//     endpoints, 0.76 MB at 100 and 3.4 MB at 1000 (BenchmarkMemory, with
//     the children and SubConns; grpc-go's ring_hash: 0.09, 0.34, 2.4 MB;
//     the earlier ring at its default 2^20 slots: 2.1, 2.3, 4.5 MB).
//   - Pick reads one byte. When the owner is not READY, the key goes to the
//     winner of a weighted rendezvous among the READY endpoints (picker's
//     fallback, one hash per endpoint): a function of the key and the READY
//     set only, so an endpoint going down moves only its own keys, spread in
//     proportion to the weights, and a change to another endpoint moves the
//     displaced keys only to or from that endpoint. Walking on to the next
//     slots' owners, as a ring does, would not do: those owners are
//     independent draws that change when an endpoint that is down is removed
//     or reweighted. Bounded loads walk on to the next slots' owners when the
//     key's endpoint is full; each slot is visited at most once.
//
// Building the table generates every endpoint's draws in time order, in
// rounds, until every slot has one: all draws earlier than the round's end
// have then been seen, so each slot's winner is exact, whatever the round
// sizes. That is about ringSize * (ln ringSize + 3) draws (a coupon
// collector's tail), about 14 to 17 per slot, whatever N and the weights
// are, each one random access to a word of scratch space (8 bytes a slot,
// garbage once the table is built): about 35 ms at the default size on a
// shared 2-core machine (BenchmarkTableBuild; the ring rendered into 2^20
// slots took about 20 ms). It happens when the endpoints or their weights
// change, not when their state does. Weights are compared as exact integer products, so every
// client with the same endpoints builds the same table.
//
// A sorted ring with fixed virtual nodes per unit of weight would also keep
// keys still, but its balance follows 1/sqrt(virtual nodes per endpoint): 1.05
// at 100 endpoints takes about 2500 virtual nodes each (2.5 MiB at 10 bytes a
// node) and a binary search per Pick, and weights of 100 would need 100
// times more. Jump hashing cannot remove an endpoint from the middle or weigh
// one. Maglev balances perfectly but refills its table from scratch on every
// change, which moves keys between endpoints that stayed.

// maxEndpoints is the most endpoints a table holds: indexes are uint16.
const (
	maxEndpoints = 0xFFFF
	golden       = 0x9E3779B97F4A7C15 // 2^64 / phi, the splitmix64 increment
)

// tableEndpoint is an endpoint as the table sees it.
type tableEndpoint struct {
	addr   string
	weight uint32 // >= 1
}

// table is an immutable consistent-hash table. Endpoint i of the table is
// eps[i]; eps is sorted by address.
type table struct {
	eps   []tableEndpoint
	seeds []uint64 // hash of each endpoint's address
	// slot -> endpoint index: narrow when there are at most 256 endpoints,
	// else wide; the other is nil.
	narrow []uint8
	wide   []uint16
	shift  uint // 64 - log2(size)
	mask   uint32
	// class[i] indexes endpoint i's weight in classWeights, the distinct
	// weights; nil when there are more than maxClasses of them.
	class        []uint8
	classWeights []float64

	// fractions[i] is endpoint i's share of the slots, counted by the first
	// slotShares call, for debug pages.
	fractionsOnce sync.Once
	fractions     []float64
}

// maxClasses is the most distinct weights a table sorts its endpoints by, for
// the picker's fallback.
const maxClasses = 8

// newTable builds the table for eps (sorted by address, unique, at most
// maxEndpoints, not empty, weights >= 1) with size slots (a power of two).
func newTable(eps []tableEndpoint, size uint32) *table {
	t := &table{
		eps:   eps,
		seeds: make([]uint64, len(eps)),
		shift: uint(64 - bits.TrailingZeros32(size)),
		mask:  size - 1,
	}
	for i, e := range eps {
		t.seeds[i] = hashString(e.addr)
	}
	t.classify()
	best := newRace(t).run()
	if len(eps) > 256 {
		t.wide = make([]uint16, size)
		for s, b := range best {
			t.wide[s] = uint16(b)
		}
		return t
	}
	t.narrow = make([]uint8, size)
	for s, b := range best {
		t.narrow[s] = uint8(b)
	}
	return t
}

// classify fills class and classWeights, if there are at most maxClasses
// distinct weights.
func (t *table) classify() {
	class := make([]uint8, len(t.eps))
	var weights []float64
	for i, e := range t.eps {
		c := slices.Index(weights, float64(e.weight))
		if c < 0 {
			if len(weights) == maxClasses {
				return
			}
			c, weights = len(weights), append(weights, float64(e.weight))
		}
		class[i] = uint8(c)
	}
	t.class, t.classWeights = class, weights
}

// race computes the winners of a table's slots.
type race struct {
	t     *table
	drawn []uint64 // draws made by each endpoint so far
	// best[s] is the earliest draw on slot s so far: its number (k+1) << 16
	// | its endpoint's index; 0: none yet. One word, so that a draw costs one
	// random memory access.
	best  []uint64
	open  int    // slots without a draw
	total uint64 // total weight
	equal bool   // all weights equal: earlier is a lower draw number
}

func newRace(t *table) *race {
	size := t.size()
	r := &race{
		t:     t,
		drawn: make([]uint64, len(t.eps)),
		best:  make([]uint64, size),
		open:  size,
		equal: len(t.classWeights) == 1,
	}
	for _, e := range t.eps {
		r.total += uint64(e.weight)
	}
	return r
}

// run makes rounds of draws until every slot has one and returns best, whose
// low 16 bits are the slots' winners. Round times are multiples of 1/total: at time c/total, endpoint e
// has made every draw k with (k+1)/w_e <= c/total. The first round ends where
// about all but one slot has a draw; each further one adds about size draws.
func (r *race) run() []uint64 {
	size := uint64(r.t.size())
	c := size * uint64(bits.Len64(size)-1) * 69 / 100 // ln 2 * log2(size)
	for {
		for i := range r.t.eps {
			r.drawUntil(i, c)
		}
		if r.open == 0 {
			break
		}
		c += size
	}
	return r.best
}

// drawUntil makes endpoint i's draws up to time c/total.
//
// The race detector does not watch it: its accesses go to the race's scratch
// memory, which no other goroutine sees before the table is published, and
// watching millions of random accesses made a default table take seconds
// under -race, long enough for a channel's first calls, which wait for the
// table, to time out in race-enabled test suites (TestTableBuildUnderRace).
//
//go:norace
func (r *race) drawUntil(i int, c uint64) {
	w := uint64(r.t.eps[i].weight)
	end := c * w / r.total // draws k with (k+1)*total <= c*w
	seed := r.t.seeds[i]
	for k := r.drawn[i]; k < end; k++ {
		s := mix64(seed+(k+1)*golden) >> r.t.shift
		mine, cur := (k+1)<<16|uint64(i), r.best[s]
		switch {
		case cur == 0:
			r.best[s] = mine
			r.open--
		case r.equal:
			r.best[s] = min(cur, mine) // the earlier draw, or the lower index
		case r.earlier(mine, cur):
			r.best[s] = mine
		}
	}
	r.drawn[i] = max(r.drawn[i], end)
}

// earlier reports whether draw a, made by endpoint a&0xFFFF at time
// (a>>16)/weight, is earlier than draw b, or as early and by a lower index.
// The times are compared exactly, as products: weights and draw numbers are
// below 2^32.
func (r *race) earlier(a, b uint64) bool {
	ta := (a >> 16) * uint64(r.t.eps[b&0xFFFF].weight)
	tb := (b >> 16) * uint64(r.t.eps[a&0xFFFF].weight)
	return ta < tb || ta == tb && a&0xFFFF < b&0xFFFF
}

// slot returns the slot of hash h.
func (t *table) slot(h uint64) uint32 { return uint32(h >> t.shift) }

// owner returns the endpoint index of slot i (taken modulo the table size).
func (t *table) owner(i uint32) uint16 {
	if t.narrow != nil {
		return uint16(t.narrow[i&t.mask])
	}
	return t.wide[i&t.mask]
}

// size returns the number of slots.
func (t *table) size() int { return int(t.mask) + 1 }

// shares returns how many slots each endpoint owns.
func (t *table) shares() []int {
	n := make([]int, len(t.eps))
	for s := range uint32(t.size()) {
		n[t.owner(s)]++
	}
	return n
}

// slotShares returns each endpoint's share of the slots. It counts them on
// its first call (a pass over the table) and returns the same slice after:
// callers must not write to it.
func (t *table) slotShares() []float64 {
	t.fractionsOnce.Do(func() {
		t.fractions = make([]float64, len(t.eps))
		for i, n := range t.shares() {
			t.fractions[i] = float64(n) / float64(t.size())
		}
	})
	return t.fractions
}

// sameEndpoints reports whether t was built from eps at size slots.
func (t *table) sameEndpoints(eps []tableEndpoint, size uint32) bool {
	if t == nil || t.size() != int(size) || len(t.eps) != len(eps) {
		return false
	}
	return slices.Equal(t.eps, eps)
}

// sortEndpoints sorts eps by address.
func sortEndpoints(eps []tableEndpoint) {
	slices.SortFunc(eps, func(x, y tableEndpoint) int { return cmp.Compare(x.addr, y.addr) })
}
