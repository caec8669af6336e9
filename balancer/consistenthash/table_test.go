package consistenthash

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
)

// testEndpoints returns n endpoints of weight 1, sorted by address.
func testEndpoints(n int) []tableEndpoint {
	eps := make([]tableEndpoint, n)
	for i := range eps {
		eps[i] = tableEndpoint{addr: fmt.Sprintf("10.%d.%d.%d:50051", i/65536, i/256%256, i%256), weight: 1}
	}
	sortEndpoints(eps)
	return eps
}

// testKeys returns the hashes of n distinct keys.
func testKeys(n int) []uint64 {
	ks := make([]uint64, n)
	for i := range ks {
		ks[i] = hashString("user-" + strconv.Itoa(i))
	}
	return ks
}

// tableSizeFor returns the table size the tests use for n endpoints: the
// default, and 2^22 slots for 1000 (see table.go).
func tableSizeFor(n int) uint32 {
	if n > 300 {
		return 1 << 22
	}
	return DefaultRingSize
}

// shareRatio returns the max/mean of the endpoints' table shares, each
// relative to its weight.
func shareRatio(t *table) float64 {
	worst := 0.0
	for i, n := range t.shares() {
		worst = max(worst, float64(n)/fairShare(t, i))
	}
	return worst
}

// fairShare returns the slots endpoint i of t would own in proportion to its
// weight.
func fairShare(t *table, i int) float64 {
	var w float64
	for _, e := range t.eps {
		w += float64(e.weight)
	}
	return float64(t.size()) * float64(t.eps[i].weight) / w
}

// shareBound is the published ceiling of an endpoint's share over its fair
// share: 4.5 standard deviations of its binomial count of slots.
func shareBound(t *table, i int) float64 {
	return 1 + 4.5/math.Sqrt(fairShare(t, i))
}

// checkShares fails the test if an endpoint of t owns more than shareBound
// of its fair share.
func checkShares(t *testing.T, tb *table) {
	t.Helper()
	for i, n := range tb.shares() {
		if got, limit := float64(n)/fairShare(tb, i), shareBound(tb, i); got > limit {
			t.Fatalf("%s (weight %d of %d endpoints) owns %d of %d slots: %.4f of its fair share, want <= %.4f",
				tb.eps[i].addr, tb.eps[i].weight, len(tb.eps), n, tb.size(), got, limit)
		}
	}
}

func keyCounts(t *table, keys []uint64) []int {
	counts := make([]int, len(t.eps))
	for _, k := range keys {
		counts[t.owner(t.slot(k))]++
	}
	return counts
}

// TestTableBalance checks the published balance: every endpoint's share of
// the table is at most 1.05 times the mean at 10 and 100 endpoints with the
// default size, and at 1000 with 2^22 slots; and 100k keys land in proportion
// to the shares (within 5 binomial standard deviations).
//
// The key-count max/mean itself is reported, not held to 1.05: 100k keys over
// 100 endpoints put 1000 keys on each with a standard deviation of 32 (3.2%),
// so even a perfectly even table sees a max/mean of about 1.08.
func TestTableBalance(t *testing.T) {
	keys := testKeys(100_000)
	for _, n := range []int{10, 100, 1000} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			tb := newTable(testEndpoints(n), tableSizeFor(n))
			if got := shareRatio(tb); got > 1.05 {
				t.Errorf("table share max/mean = %.4f, want <= 1.05", got)
			}
			counts := keyCounts(tb, keys)
			shares := tb.shares()
			maxKeys := 0
			for i, c := range counts {
				want := float64(len(keys)) * float64(shares[i]) / float64(tb.size())
				if math.Abs(float64(c)-want) > 5*math.Sqrt(want) {
					t.Errorf("endpoint %s got %d keys, want %.0f ± %.0f from its share", tb.eps[i].addr, c, want, 5*math.Sqrt(want))
				}
				maxKeys = max(maxKeys, c)
			}
			t.Logf("%d endpoints: table max/mean %.4f, keys max/mean %.4f", n, shareRatio(tb), float64(maxKeys)*float64(n)/float64(len(keys)))
		})
	}
}

// TestTableWeights checks that shares follow weights, whatever their scale.
func TestTableWeights(t *testing.T) {
	for _, scale := range []uint32{1, 100, 1000} {
		eps := testEndpoints(40)
		for i := range eps {
			eps[i].weight = scale * uint32(1+i%4) // 1, 2, 3, 4 times scale
		}
		tb := newTable(eps, DefaultRingSize)
		if got := shareRatio(tb); got > 1.05 {
			t.Errorf("weights ×%d: share max/mean = %.4f, want <= 1.05", scale, got)
		}
		if scale > 1 && !equalSlots(tb, newTable(testWeightsDivided(eps, scale), DefaultRingSize)) {
			t.Errorf("weights ×%d: the table differs from the one with weights divided by %d", scale, scale)
		}
	}
}

func testWeightsDivided(eps []tableEndpoint, d uint32) []tableEndpoint {
	out := append([]tableEndpoint(nil), eps...)
	for i := range out {
		out[i].weight /= d
	}
	return out
}

func equalSlots(a, b *table) bool {
	for s := range uint32(a.size()) {
		if a.eps[a.owner(s)].addr != b.eps[b.owner(s)].addr {
			return false
		}
	}
	return true
}

// checkOnlyMoved fails the test if a slot changed owner between before and
// after without changed being the old or the new owner. It returns the
// number of slots that moved.
func checkOnlyMoved(t *testing.T, before, after *table, changed string) int {
	t.Helper()
	moved := 0
	for s := range uint32(before.size()) {
		from, to := before.eps[before.owner(s)].addr, after.eps[after.owner(s)].addr
		if from == to {
			continue
		}
		if from != changed && to != changed {
			t.Fatalf("%d -> %d endpoints, changing %s: slot %d moved from %s to %s", len(before.eps), len(after.eps), changed, s, from, to)
		}
		moved++
	}
	return moved
}

// TestTableOnlyChangedMoves grows a fleet one endpoint at a time from 1 to 130
// (crossing every power of two), then shrinks it, and reweights one endpoint
// at each size: only slots of the endpoint that changed may move.
func TestTableOnlyChangedMoves(t *testing.T) {
	const size = 1 << 12
	all := testEndpoints(130)
	rng := rand.New(rand.NewPCG(14, 1))
	rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	build := func(eps []tableEndpoint) *table {
		eps = append([]tableEndpoint(nil), eps...)
		sortEndpoints(eps)
		return newTable(eps, size)
	}
	prev := build(all[:1])
	for n := 2; n <= len(all); n++ {
		next := build(all[:n])
		checkOnlyMoved(t, prev, next, all[n-1].addr)
		checkOnlyMoved(t, next, prev, all[n-1].addr) // shrinking by the same one
		heavy := append([]tableEndpoint(nil), all[:n]...)
		j := rng.IntN(n)
		heavy[j].weight = 1 + uint32(rng.IntN(20))
		checkOnlyMoved(t, next, build(heavy), heavy[j].addr)
		prev = next
	}
}

// TestTableRemoval removes one of N endpoints and checks that exactly the
// removed endpoint's slots and keys move, and that they are at most 1.1/N of
// the table.
func TestTableRemoval(t *testing.T) {
	keys := testKeys(100_000)
	for _, n := range []int{10, 100} {
		all := testEndpoints(n)
		before := newTable(all, DefaultRingSize)
		for _, gone := range []int{0, n / 2, n - 1} {
			t.Run(fmt.Sprintf("%d/remove%d", n, gone), func(t *testing.T) {
				rest := append(append([]tableEndpoint(nil), all[:gone]...), all[gone+1:]...)
				after := newTable(rest, DefaultRingSize)
				moved := checkOnlyMoved(t, before, after, all[gone].addr)
				if frac := float64(moved) / float64(before.size()); frac > 1.1/float64(n) {
					t.Errorf("removing 1 of %d moved %.5f of the slots, want <= %.5f", n, frac, 1.1/float64(n))
				}
				movedKeys := 0
				for _, k := range keys {
					if before.eps[before.owner(before.slot(k))] != after.eps[after.owner(after.slot(k))] {
						movedKeys++
					}
				}
				t.Logf("removing 1 of %d moved %d of %d keys (%.5f; 1/N = %.5f)", n, movedKeys, len(keys), float64(movedKeys)/float64(len(keys)), 1/float64(n))
			})
		}
	}
}

// TestTableWeightChange checks that doubling one endpoint's weight only moves
// slots to it, and about doubles its share.
func TestTableWeightChange(t *testing.T) {
	eps := testEndpoints(50)
	before := newTable(eps, DefaultRingSize)
	eps2 := append([]tableEndpoint(nil), eps...)
	eps2[7].weight = 2
	after := newTable(eps2, DefaultRingSize)
	for s := range uint32(before.size()) {
		if o, o2 := before.owner(s), after.owner(s); o2 != o && o2 != 7 {
			t.Fatalf("slot %d moved from %d to %d; only moves to 7 expected", s, o, o2)
		}
	}
	if got := float64(after.shares()[7]) / float64(before.shares()[7]); got < 1.9 || got > 2.1 {
		t.Errorf("doubling the weight multiplied the share by %.3f, want about 2", got)
	}
}

// TestTableSmall covers more endpoints than slots and a single endpoint.
func TestTableSmall(t *testing.T) {
	one := newTable(testEndpoints(1), MinRingSize)
	if got := one.shares()[0]; got != MinRingSize {
		t.Errorf("one endpoint owns %d of %d slots", got, MinRingSize)
	}
	many := newTable(testEndpoints(3000), MinRingSize)
	owners := 0
	for _, n := range many.shares() {
		if n > 0 {
			owners++
		}
	}
	if owners > MinRingSize || owners < MinRingSize/2 {
		t.Errorf("3000 endpoints over %d slots: %d own a slot", MinRingSize, owners)
	}
}
