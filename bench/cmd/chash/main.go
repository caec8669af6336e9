// Command chash measures the consistent-hash policy's balance and key
// movement at 10, 100 and 1000 endpoints, bounded and not (package chash),
// and writes the results as JSON:
//
//	go run ./bench/cmd/chash -out bench/out/chash.json
package main

import (
	"flag"
	"fmt"
	"log"
	"os"

	"github.com/grpckit/grpckit/bench/chash"
	"github.com/grpckit/grpckit/bench/internal/jsonfile"
)

func main() {
	out := flag.String("out", "chash.json", "file to write the results to")
	perEndpoint := flag.Int("keys", 100_000, "keys per endpoint for the unbounded balance (capped at 20M in all)")
	moveKeys := flag.Int("move-keys", 2_000_000, "keys mapped before and after removing an endpoint")
	flag.Parse()
	if err := run(*out, *perEndpoint, *moveKeys); err != nil {
		log.Fatal(err)
	}
}

func run(out string, perEndpoint, moveKeys int) error {
	var res chash.Results
	for _, n := range []int{10, 100, 1000} {
		b, err := chash.MeasureBalance(n, min(perEndpoint*n, 20_000_000))
		if err != nil {
			return err
		}
		bb, err := chash.MeasureBounded(n, 100*n)
		if err != nil {
			return err
		}
		res.Balance = append(res.Balance, b, bb)
		for _, cfg := range []string{chash.Unbounded, chash.Bounded} {
			m, err := chash.MeasureMovement(cfg, n, moveKeys)
			if err != nil {
				return err
			}
			res.Movement = append(res.Movement, m)
			for _, ch := range []chash.Change{chash.Grow, chash.Reweight} {
				c, err := chash.MeasureChange(cfg, ch, n, moveKeys)
				if err != nil {
					return err
				}
				if c.MovedElsewhere != 0 {
					return fmt.Errorf("chash: %s with %d endpoints (%s) moved %d keys between endpoints that did not change", ch, n, cfg, c.MovedElsewhere)
				}
				res.Movement = append(res.Movement, c)
			}
		}
		fmt.Fprintf(os.Stderr, "chash: %d endpoints: max/mean %.4f (noise floor %.4f), bounded %.4f, moved %.5f (1/N %.5f)\n",
			n, b.MaxMean, b.NoiseFloor, bb.MaxMean, res.Movement[len(res.Movement)-6].Moved, 1/float64(n))
	}
	return jsonfile.Write(out, res)
}
