package chash

import (
	"context"
	"fmt"
	"math"
	"strconv"

	"google.golang.org/grpc/balancer"

	"github.com/grpckit/grpckit/balancer/consistenthash"
	"github.com/grpckit/grpckit/bench/internal/fakecc"
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

// Movement is what removing one of N endpoints moved.
type Movement struct {
	Endpoints int
	Keys      int
	Bounded   bool
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
	if err := eachOwner(Unbounded, n, -1, keys, func(_, i int) { counts[i]++ }); err != nil {
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
	gone := n / 2
	before, after := make([]int, keys), make([]int, keys)
	if err := eachOwner(cfg, n, -1, keys, func(k, i int) { before[k] = i }); err != nil {
		return Movement{}, err
	}
	if err := eachOwner(cfg, n, gone, keys, func(k, i int) { after[k] = i }); err != nil {
		return Movement{}, err
	}
	m := Movement{Endpoints: n, Keys: keys, Bounded: cfg == Bounded, Theory: 1 / float64(n), Bound: 1.1 / float64(n)}
	moved := 0
	for k := range before {
		if before[k] != after[k] {
			moved++
			if before[k] != gone {
				m.MovedElsewhere++
			}
		}
	}
	m.Moved = float64(moved) / float64(keys)
	return m, nil
}

// eachOwner calls visit with each of keys keys and the endpoint it goes to
// over n endpoints (fakecc's indexes), leaving out endpoint skip when it is
// not -1. Each pick is done at once.
func eachOwner(cfg string, n, skip, keys int, visit func(k, i int)) error {
	eps := fakecc.Endpoints(n)
	if skip >= 0 {
		eps = append(eps[:skip:skip], eps[skip+1:]...)
	}
	p, closeFn, err := fakecc.ReadyPicker(consistenthash.Name, cfg, eps)
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
