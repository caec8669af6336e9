package consistenthash

import (
	"cmp"
	"math/bits"
	"slices"
)

// Why a ring rendered into a table, and not Maglev.
//
// The policy promises two things at once: near-perfect balance (max/mean share
// <= 1.05), and that removing an endpoint, or an endpoint going down, moves
// only that endpoint's keys. Maglev balances perfectly but refills its table
// from scratch on every change, so a removal also shuffles a few keys between
// endpoints that stayed. A hash ring (Karger et al.) moves only the removed
// endpoint's arcs, and its balance improves as 1/sqrt(virtual nodes per
// endpoint); it needs thousands of virtual nodes per endpoint for 1.05, which
// makes a sorted ring large (14 bytes a node with its index) and its binary
// search slow.
//
// So the ring is rendered into a table of ringSize slots (a power of two): the
// top bits of a 64-bit hash select a slot, and a slot belongs to the first
// virtual node at or after the slot's start, which is the ring's successor
// rule at slot resolution. Each slot still ranks endpoints in ring order, so a
// removal re-assigns exactly the removed endpoint's slots; Pick reads one
// uint16 and, when the owner is not READY or is full, walks on to the next
// slots, which are the next owners on the ring.
//
// Virtual nodes: an endpoint of weight w has w * 2^unit of them (at least 1),
// the first ones of a sequence fixed by its address, so a weight change adds
// or removes only its own virtual nodes. unit is the largest integer (possibly
// negative) that keeps the total within ringSize; it only changes when the
// total weight crosses a power of two relative to ringSize, which then moves
// about half the keys. Balance: the max/mean share is about
// 1 + z*1.1/sqrt(ringSize/totalWeight), z being 2.5 at 100 endpoints and 3.2
// at 1000, so 1.05 takes about 4096 slots per unit of weight at 100
// endpoints and 8192 at 1000: the default ringSize (2^20, 2 MiB) keeps it up
// to about 200 endpoints of equal weight; 1000 endpoints need 2^23 (16 MiB).

// noOwner marks a slot without a virtual node while the table is built; it is
// also why a ring holds at most maxEndpoints endpoints.
const (
	noOwner      = 0xFFFF
	maxEndpoints = noOwner
	golden       = 0x9E3779B97F4A7C15 // 2^64 / phi, the splitmix64 increment
)

// ringEndpoint is an endpoint as the ring sees it.
type ringEndpoint struct {
	addr   string
	weight uint32
}

// ring is an immutable consistent-hash table. Endpoint i of the table is
// eps[i]; eps is sorted by address.
type ring struct {
	eps   []ringEndpoint
	seeds []uint64 // hash of each endpoint's address
	slots []uint16 // slot -> endpoint index
	shift uint     // 64 - log2(len(slots))
	mask  uint32
	unit  int // log2 of the virtual nodes per unit of weight
}

// newRing builds the table for eps (sorted by address, unique, at most
// maxEndpoints, not empty) with size slots (a power of two).
func newRing(eps []ringEndpoint, size uint32) *ring {
	r := &ring{
		eps:   eps,
		seeds: make([]uint64, len(eps)),
		slots: make([]uint16, size),
		shift: uint(64 - bits.TrailingZeros32(size)),
		mask:  size - 1,
		unit:  vnodeUnit(eps, size),
	}
	for i, e := range eps {
		r.seeds[i] = hashString(e.addr)
	}
	for i := range r.slots {
		r.slots[i] = noOwner
	}
	sub := make([]uint32, size)
	for i, e := range eps {
		r.place(i, vnodes(e.weight, r.unit), sub)
	}
	r.fill()
	return r
}

// place puts endpoint i's n virtual nodes on the table. Within a slot the
// virtual node that comes first on the ring (lowest next 32 bits; ties broken
// by the endpoints' seeds) owns it, whatever the order of placement.
func (r *ring) place(i int, n uint64, sub []uint32) {
	seed := r.seeds[i]
	for v := range n {
		p := mix64(seed + (v+1)*golden)
		s, sb := p>>r.shift, uint32(p>>(r.shift-32))
		cur := r.slots[s]
		if cur == noOwner || sb < sub[s] || sb == sub[s] && seed < r.seeds[cur] {
			r.slots[s], sub[s] = uint16(i), sb
		}
	}
}

// fill gives every slot without a virtual node to the next one that has one,
// wrapping around the end of the table.
func (r *ring) fill() {
	cur := uint16(noOwner)
	for _, o := range r.slots {
		if o != noOwner {
			cur = o // the first virtual node owns the wrapped tail
			break
		}
	}
	for i := len(r.slots) - 1; i >= 0; i-- {
		if r.slots[i] == noOwner {
			r.slots[i] = cur
		} else {
			cur = r.slots[i]
		}
	}
}

// slot returns the slot of hash h.
func (r *ring) slot(h uint64) uint32 { return uint32(h >> r.shift) }

// owner returns the endpoint index of slot i (taken modulo the table size).
func (r *ring) owner(i uint32) uint16 { return r.slots[i&r.mask] }

// vnodeUnit returns the largest unit such that the virtual nodes of eps fit
// in size slots.
func vnodeUnit(eps []ringEndpoint, size uint32) int {
	var total uint64
	for _, e := range eps {
		total += uint64(e.weight)
	}
	unit := bits.Len32(size) - bits.Len64(total) // 2^unit * total < 2 * size
	// Below -32 every endpoint has one virtual node: more endpoints than slots.
	for unit > -32 && totalVnodes(eps, unit) > uint64(size) {
		unit--
	}
	return unit
}

func totalVnodes(eps []ringEndpoint, unit int) uint64 {
	var n uint64
	for _, e := range eps {
		n += vnodes(e.weight, unit)
	}
	return n
}

// vnodes returns how many virtual nodes weight w gets at unit: w * 2^unit,
// rounded up, at least 1.
func vnodes(w uint32, unit int) uint64 {
	if unit >= 0 {
		return max(uint64(w)<<unit, 1)
	}
	d := uint(-unit)
	if d >= 63 {
		return 1
	}
	return max((uint64(w)+(1<<d)-1)>>d, 1)
}

// shares returns how many slots each endpoint owns.
func (r *ring) shares() []int {
	n := make([]int, len(r.eps))
	for _, o := range r.slots {
		n[o]++
	}
	return n
}

// sameEndpoints reports whether r was built from eps at size slots.
func (r *ring) sameEndpoints(eps []ringEndpoint, size uint32) bool {
	if r == nil || len(r.slots) != int(size) || len(r.eps) != len(eps) {
		return false
	}
	for i := range eps {
		if r.eps[i] != eps[i] {
			return false
		}
	}
	return true
}

// sortEndpoints sorts eps by address.
func sortEndpoints(eps []ringEndpoint) {
	slices.SortFunc(eps, func(x, y ringEndpoint) int { return cmp.Compare(x.addr, y.addr) })
}
