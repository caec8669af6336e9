package breaker

import (
	"encoding/binary"
	"hash/maphash"
	"net"
)

// The spread rule (WithSpread) needs to know how many backends answered in
// the window and how many of them failed. The window keeps a small table of
// the backends it heard from, by a hash of their address: which bucket each
// last answered in and last failed in. An entry is live while that bucket
// is in the window. Recording an outcome is a scan of the table under the
// breaker's lock, with no allocation.

// maxPeers is how many backends a window tells apart. Past that many in one
// window the spread among them is not known (a table of the last few heard
// from is a sample biased to the backends taking the most calls, which
// fast-failing ones do), so while a backend forgotten for room is in the
// window the rule stands aside and the trip condition alone decides: a
// fleet that large is judged by the share of its calls that failed, as a
// breaker without the rule would.
const maxPeers = 16

// peerSlot is what a window knows of one backend. answered and failed are
// bucket numbers (see window.seq); 0 is never.
type peerSlot struct {
	id       uint64
	answered uint64
	failed   uint64
}

var peerSeed = maphash.MakeSeed()

// peerID names the backend at a, without allocating for TCP addresses.
// A call whose peer is not known is given 0, one backend of its own.
func peerID(a net.Addr) uint64 {
	switch a := a.(type) {
	case nil:
		return 0
	case *net.TCPAddr:
		ap := a.AddrPort()
		ip := ap.Addr().Unmap().As16()
		hi := binary.LittleEndian.Uint64(ip[:8])
		lo := binary.LittleEndian.Uint64(ip[8:])
		id := mix(hi ^ mix(lo^uint64(ap.Port())))
		if a.Zone != "" { // link-local addresses on two interfaces are two backends
			id = mix(id ^ maphash.String(peerSeed, a.Zone))
		}
		return id
	}
	return maphash.String(peerSeed, a.String())
}

// mix is SplitMix64's finaliser.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// peerOutcome notes that backend id answered in the current bucket, and
// failed if failed.
func (w *window) peerOutcome(id uint64, failed bool) {
	s := w.peerSlot(id)
	s.answered = w.seq
	if failed {
		s.failed = w.seq
	}
}

// peerSlot returns id's slot, or takes the one heard from least recently.
// Taking one still in the window notes the overflow (see maxPeers).
func (w *window) peerSlot(id uint64) *peerSlot {
	victim := &w.peers[0]
	for i := range w.peers {
		s := &w.peers[i]
		if s.id == id && s.answered != 0 {
			return s
		}
		if s.answered < victim.answered {
			victim = s
		}
	}
	if w.live(victim.answered) {
		w.overflow = w.seq
	}
	*victim = peerSlot{id: id}
	return victim
}

// overflowed reports whether the window forgot a backend it still holds
// outcomes of: more than maxPeers answered in it.
func (w *window) overflowed() bool { return w.live(w.overflow) }

// live reports whether bucket number n is in the window.
func (w *window) live(n uint64) bool {
	return n != 0 && n+uint64(len(w.buckets)) > w.seq
}

// spread returns how many backends answered in the window and how many of
// them failed at least once in it.
func (w *window) spread() (answered, failing int) {
	for i := range w.peers {
		if w.live(w.peers[i].answered) {
			answered++
		}
		if w.live(w.peers[i].failed) {
			failing++
		}
	}
	return answered, failing
}
