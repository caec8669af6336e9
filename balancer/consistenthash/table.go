package consistenthash

import (
	"cmp"
	"math/bits"
	"slices"
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
//     rendezvous (highest-random-weight) hashing at slot resolution.
//   - as a draw lands on one of ringSize slots, the first-draw times are
//     geometric, close to exponential with rate w_e/ringSize, and endpoint e
//     wins a slot with probability w_e/W. Slots are won independently, so an
//     endpoint's share is binomial: its relative spread is about
//     sqrt(N/ringSize), and the busiest of N endpoints sits about 2 to 2.6 of
//     those above the mean (measured: 1.026 at 100 endpoints and 2^19 slots,
//     worst of ten fleets 1.032; 1.074 at 1000 endpoints and 2^20 slots).
//     The default, 2^19 slots (1 MiB of uint16), keeps 1.05 up to about 300
//     endpoints of any weights; 1000 endpoints need 2^22 (8 MiB, about 1.04).
//   - Pick reads one uint16. When the owner is not READY, or is full under
//     bounded loads, it walks on to the next slots, whose owners are
//     independent weighted draws: an endpoint that goes down spreads its keys
//     over the others in proportion to their weights, and no other key moves.
//     A walk visits at most every slot once.
//
// Building the table generates every endpoint's draws in time order, in
// rounds, until every slot has one: all draws earlier than the round's end
// have then been seen, so each slot's winner is exact, whatever the round
// sizes. That is about ringSize * (ln ringSize + 3) draws (a coupon
// collector's tail), about 14 per slot at the default, whatever N and the
// weights are; the build's scratch space (4 bytes a slot) is garbage once the
// table is built. Weights are compared as exact integer products, so every
// client with the same endpoints builds the same table.
//
// A sorted ring with fixed virtual nodes per unit of weight would also keep
// keys still, but its balance follows 1/sqrt(virtual nodes per endpoint): 1.05
// at 100 endpoints takes about 2500 virtual nodes each (2.5 MiB at 10 bytes a
// node) and a binary search per Pick; and weights of 100 would need 100 times
// more. Maglev balances perfectly but refills its table from scratch on every
// change, which moves keys between endpoints that stayed.

// noOwner is never an endpoint index; it is also why a table holds at most
// maxEndpoints endpoints.
const (
	noOwner      = 0xFFFF
	maxEndpoints = noOwner
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
	slots []uint16 // slot -> endpoint index
	shift uint     // 64 - log2(len(slots))
	mask  uint32
}

// newTable builds the table for eps (sorted by address, unique, at most
// maxEndpoints, not empty, weights >= 1) with size slots (a power of two).
func newTable(eps []tableEndpoint, size uint32) *table {
	t := &table{
		eps:   eps,
		seeds: make([]uint64, len(eps)),
		slots: make([]uint16, size),
		shift: uint(64 - bits.TrailingZeros32(size)),
		mask:  size - 1,
	}
	newRace(t).run()
	return t
}

// race computes the winners of a table's slots.
type race struct {
	t     *table
	drawn []uint64 // draws made by each endpoint so far
	first []uint32 // slot -> draw number (k+1) of its winner's first draw there; 0: none yet
	open  int      // slots without a draw
	total uint64   // total weight
}

func newRace(t *table) *race {
	r := &race{
		t:     t,
		drawn: make([]uint64, len(t.eps)),
		first: make([]uint32, len(t.slots)),
		open:  len(t.slots),
	}
	for i, e := range t.eps {
		t.seeds[i] = hashString(e.addr)
		r.total += uint64(e.weight)
	}
	return r
}

// run makes rounds of draws until every slot has one. Round times are
// multiples of 1/total: at time c/total, endpoint e has made every draw k with
// (k+1)/w_e <= c/total. The first round ends where about all but one slot
// has a draw; each further one adds about ringSize draws.
func (r *race) run() {
	size := uint64(len(r.t.slots))
	c := size * uint64(bits.Len64(size)-1) * 69 / 100 // ln 2 * log2(size)
	for {
		for i := range r.t.eps {
			r.drawUntil(i, c)
		}
		if r.open == 0 {
			return
		}
		c += size
	}
}

// drawUntil makes endpoint i's draws up to time c/total.
func (r *race) drawUntil(i int, c uint64) {
	w := uint64(r.t.eps[i].weight)
	end := c * w / r.total // draws k with (k+1)*total <= c*w
	seed := r.t.seeds[i]
	for k := r.drawn[i]; k < end; k++ {
		s := uint32(mix64(seed+(k+1)*golden) >> r.t.shift)
		r.enter(s, i, k+1, w)
	}
	r.drawn[i] = max(r.drawn[i], end)
}

// enter records endpoint i's draw number n, made at time n/w, on slot s, if
// it is earlier than the slot's best so far.
func (r *race) enter(s uint32, i int, n, w uint64) {
	best := r.first[s]
	if best == 0 {
		r.first[s], r.t.slots[s] = uint32(n), uint16(i)
		r.open--
		return
	}
	o := r.t.slots[s]
	// n/w < best/w_o, compared exactly: weights < 2^32, draws < 2^32.
	mine, theirs := n*uint64(r.t.eps[o].weight), uint64(best)*w
	if mine < theirs || mine == theirs && uint16(i) < o {
		r.first[s], r.t.slots[s] = uint32(n), uint16(i)
	}
}

// slot returns the slot of hash h.
func (t *table) slot(h uint64) uint32 { return uint32(h >> t.shift) }

// owner returns the endpoint index of slot i (taken modulo the table size).
func (t *table) owner(i uint32) uint16 { return t.slots[i&t.mask] }

// shares returns how many slots each endpoint owns.
func (t *table) shares() []int {
	n := make([]int, len(t.eps))
	for _, o := range t.slots {
		n[o]++
	}
	return n
}

// sameEndpoints reports whether t was built from eps at size slots.
func (t *table) sameEndpoints(eps []tableEndpoint, size uint32) bool {
	if t == nil || len(t.slots) != int(size) || len(t.eps) != len(eps) {
		return false
	}
	return slices.Equal(t.eps, eps)
}

// sortEndpoints sorts eps by address.
func sortEndpoints(eps []tableEndpoint) {
	slices.SortFunc(eps, func(x, y tableEndpoint) int { return cmp.Compare(x.addr, y.addr) })
}
