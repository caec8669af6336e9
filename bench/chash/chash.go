package chash

import (
	"context"
	"fmt"
	"math"
	"strconv"

	"google.golang.org/grpc/balancer"

	"github.com/grpckit/grpckit/balancer/consistenthash"
	"github.com/grpckit/grpckit/bench/internal/fakecc"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

// Configs of the policy, unbounded and bounded.
const (
	Unbounded = `{}`
	Bounded   = `{"loadFactor":1.25}`
	// LoadFactor is Bounded's load factor.
	LoadFactor = 1.25
)

// Results is what bench/cmd/chash writes and the report reads.
type Results struct {
	Balance  []Balance
	Movement []Movement
}

// Balance is how evenly picks spread over the endpoints.
type Balance struct {
	Endpoints  int
	Keys       int     // keys picked
	Bounded    bool    // measured with Bounded, keys held in flight
	MaxMean    float64 // the busiest endpoint's count over the mean
	NoiseFloor float64 // the max/mean sampling alone gives, for unbounded
}

// Movement is what removing one of N endpoints moved (or, from
// MeasureChange, what Change did to one of them).
type Movement struct {
	Endpoints int
	Keys      int
	Bounded   bool
	Change    Change `json:",omitempty"` // "" for a removal
	// Moved is the fraction of the keys whose endpoint changed; Theory is
	// 1/N, the removed endpoint's fair share; Bound is 1.1/N, the target.
	Moved, Theory, Bound float64
	// MovedElsewhere counts keys that moved although their endpoint stayed:
	// 0 for a consistent hash.
	MovedElsewhere int
}

// key returns the context of key i.
func key(i int) context.Context {
	return consistenthash.WithKey(context.Background(), "user-"+strconv.Itoa(i))
}

// MeasureBalance picks keys distinct keys over n endpoints, unbounded, each
// pick done at once, and returns the busiest endpoint's share over the mean.
func MeasureBalance(n, keys int) (Balance, error) {
	counts := make([]int, n)
	if err := eachOwner(Unbounded, fakecc.Instances(n), keys, func(_, i int) { counts[i]++ }); err != nil {
		return Balance{}, err
	}
	return Balance{Endpoints: n, Keys: keys, MaxMean: maxMean(counts), NoiseFloor: NoiseFloor(n, keys)}, nil
}

// MeasureBounded picks keys distinct keys over n endpoints with Bounded and
// holds them all in flight, then returns the busiest endpoint's share of the
// requests in flight over the mean; the target is at most LoadFactor.
func MeasureBounded(n, keys int) (Balance, error) {
	p, closeFn, err := fakecc.ReadyPicker(consistenthash.Name, Bounded, fakecc.Endpoints(n))
	if err != nil {
		return Balance{}, err
	}
	defer closeFn()
	counts := make([]int, n)
	var dones []func(balancer.DoneInfo)
	defer func() {
		for _, d := range dones {
			d(balancer.DoneInfo{})
		}
	}()
	for k := range keys {
		i, res, err := fakecc.PickIndex(p, balancer.PickInfo{Ctx: key(k)})
		if err != nil {
			return Balance{}, fmt.Errorf("chash: %v", err)
		}
		counts[i]++
		if res.Done != nil {
			dones = append(dones, res.Done) // in flight until the last pick
		}
	}
	return Balance{Endpoints: n, Keys: keys, Bounded: true, MaxMean: maxMean(counts)}, nil
}

// MeasureMovement maps keys distinct keys over n endpoints with cfg, then
// over the same endpoints less the middle one, and counts the keys that
// changed endpoint.
func MeasureMovement(cfg string, n, keys int) (Movement, error) {
	insts := fakecc.Instances(n)
	gone := n / 2
	m, err := compare(cfg, insts, append(insts[:gone:gone], insts[gone+1:]...), gone, keys)
	m.Endpoints, m.Theory, m.Bound = n, 1/float64(n), 1.1/float64(n)
	return m, err
}

// Change is a change to one endpoint that MeasureChange makes.
type Change string

// The changes MeasureChange makes.
const (
	Grow     Change = "grow"     // add endpoint n to n endpoints
	Reweight Change = "reweight" // double the weight of the middle one
)

// MeasureChange maps keys distinct keys over n endpoints with cfg, makes
// change, maps them again and counts the keys that changed endpoint. Theory
// is the changed endpoint's fair share of the keys after a Grow, and the
// share it gains after a Reweight; Bound is 1.1 times that.
func MeasureChange(cfg string, change Change, n, keys int) (Movement, error) {
	before := fakecc.Instances(n)
	var after []kitresolver.Instance
	var changed int
	var theory float64
	switch change {
	case Grow:
		after, changed, theory = fakecc.Instances(n+1), n, 1/float64(n+1)
	case Reweight:
		after, changed, theory = fakecc.Instances(n), n/2, 2/float64(n+1)-1/float64(n)
		after[changed].Weight = 2
	default:
		return Movement{}, fmt.Errorf("chash: unknown change %q", change)
	}
	m, err := compare(cfg, before, after, changed, keys)
	m.Endpoints, m.Change, m.Theory, m.Bound = n, change, theory, 1.1*theory
	return m, err
}

// compare maps keys distinct keys over the endpoints of before, then of
// after, and counts the keys that moved, and those that moved neither from
// nor to endpoint changed (fakecc's index).
func compare(cfg string, before, after []kitresolver.Instance, changed, keys int) (Movement, error) {
	from, to := make([]int, keys), make([]int, keys)
	if err := eachOwner(cfg, before, keys, func(k, i int) { from[k] = i }); err != nil {
		return Movement{}, err
	}
	if err := eachOwner(cfg, after, keys, func(k, i int) { to[k] = i }); err != nil {
		return Movement{}, err
	}
	m := Movement{Keys: keys, Bounded: cfg == Bounded}
	moved := 0
	for k := range from {
		if from[k] != to[k] {
			moved++
			if from[k] != changed && to[k] != changed {
				m.MovedElsewhere++
			}
		}
	}
	m.Moved = float64(moved) / float64(keys)
	return m, nil
}

// eachOwner calls visit with each of keys keys and the endpoint it goes to
// over insts (fakecc's indexes). Each pick is done at once.
func eachOwner(cfg string, insts []kitresolver.Instance, keys int, visit func(k, i int)) error {
	p, closeFn, err := fakecc.ReadyPicker(consistenthash.Name, cfg, kitresolver.Endpoints(insts))
	if err != nil {
		return err
	}
	defer closeFn()
	for k := range keys {
		i, res, err := fakecc.PickIndex(p, balancer.PickInfo{Ctx: key(k)})
		if err != nil {
			return fmt.Errorf("chash: %v", err)
		}
		if res.Done != nil {
			res.Done(balancer.DoneInfo{})
		}
		visit(k, i)
	}
	return nil
}

// maxMean returns the largest count over the mean count.
func maxMean(counts []int) float64 {
	total, most := 0, 0
	for _, c := range counts {
		total += c
		most = max(most, c)
	}
	if total == 0 {
		return 0
	}
	return float64(most) * float64(len(counts)) / float64(total)
}

// NoiseFloor is the max/mean a perfectly even table shows for keys sampled
// keys over n endpoints: the largest of n binomial counts sits about
// √(2 ln n) standard deviations above the mean.
func NoiseFloor(n, keys int) float64 {
	if n < 2 || keys == 0 {
		return 1
	}
	return 1 + math.Sqrt(2*math.Log(float64(n))*float64(n)/float64(keys))
}
