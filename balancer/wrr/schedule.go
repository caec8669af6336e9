package wrr

import "slices"

// Why a precomputed schedule: Pick must take no lock, allocate nothing and cost
// the same at 10 or 1000 endpoints. nginx's smooth weighted round robin is a
// stateful walk over every endpoint per pick (O(n) under a lock), but its
// sequence repeats with a period of sum(weights)/gcd, and a picker is an
// immutable snapshot anyway. So the picker computes one period once, when it
// is built, and Pick is an atomic increment and a table lookup. An EDF or
// stride scheduler would also give O(1) picks, but not the nginx sequence: for
// weights 5,1,1 both can put the heavy endpoint five times in a row (a,a,a,a,a,
// b,c), which is exactly the burst smooth WRR exists to avoid.

const (
	// maxPeriod bounds the schedule's length (and memory, 4 bytes an entry).
	maxPeriod = 1 << 16
	// buildBudget bounds the work of one build: period × distinct weights.
	buildBudget = 1 << 22
)

// class is the endpoints that share one weight. In the nginx walk, endpoints
// of equal weight and equal pick count have equal current weights, and ties go
// to the lowest index, so within a class they are picked in index order, one
// rotation after another; a class stands for all of them at O(1) per step.
type class struct {
	weight  int64
	members []uint32 // endpoint indices, ascending
	pos     int      // next member to pick
	round   int64    // how often members[pos] has been picked
}

// schedule returns one period of the nginx smooth weighted round robin
// sequence over weights (indices into weights). Weights are reduced by their
// greatest common divisor; when the period would still exceed maxPeriod, or
// the build would exceed buildBudget, they are scaled down proportionally
// (each kept at least 1), which trades exactness for bounded cost.
func schedule(weights []uint32) []uint32 {
	w := reduce(weights)
	classes := group(w)
	var period int64
	for _, x := range w {
		period += x
	}
	out := make([]uint32, 0, period)
	for t := int64(1); t <= period; t++ {
		c := best(classes, t, period)
		out = append(out, c.members[c.pos])
		c.advance()
	}
	return out
}

// best returns the class whose next member the nginx walk picks at step t:
// the largest current weight t·w − period·picks, ties to the lowest index.
func best(classes []*class, t, period int64) *class {
	var top *class
	var topCur int64
	for _, c := range classes {
		cur := t*c.weight - period*c.round
		if top == nil || cur > topCur || (cur == topCur && c.members[c.pos] < top.members[top.pos]) {
			top, topCur = c, cur
		}
	}
	return top
}

func (c *class) advance() {
	c.pos++
	if c.pos == len(c.members) {
		c.pos = 0
		c.round++
	}
}

// group collects the endpoints of each distinct weight.
func group(w []int64) []*class {
	byWeight := make(map[int64]*class)
	var classes []*class
	for i, x := range w {
		c, ok := byWeight[x]
		if !ok {
			c = &class{weight: x}
			byWeight[x] = c
			classes = append(classes, c)
		}
		c.members = append(c.members, uint32(i))
	}
	return classes
}

// reduce divides the weights by their gcd and scales them down when the
// period or the build cost would be too large.
func reduce(weights []uint32) []int64 {
	w := make([]int64, len(weights))
	for i, x := range weights {
		w[i] = int64(max(x, 1))
	}
	sum := divideByGCD(w)
	if limit := periodLimit(w); sum > limit {
		for i := range w {
			w[i] = max(1, w[i]*limit/sum)
		}
		divideByGCD(w)
	}
	return w
}

// divideByGCD divides w (not empty, all positive) by its gcd in place and
// returns the new sum.
func divideByGCD(w []int64) int64 {
	g := w[0]
	for _, x := range w[1:] {
		g = gcd(g, x)
	}
	var sum int64
	for i := range w {
		w[i] /= g
		sum += w[i]
	}
	return sum
}

// periodLimit is the longest period the weights may have: maxPeriod, less when
// many distinct weights make each step expensive, never below one pick each.
func periodLimit(w []int64) int64 {
	distinct := len(slices.Compact(slices.Sorted(slices.Values(w))))
	limit := min(int64(maxPeriod), int64(buildBudget/distinct))
	return max(limit, int64(len(w)))
}

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
