package report

import (
	"fmt"

	"github.com/grpckit/grpckit/bench/chash"
	"github.com/grpckit/grpckit/bench/lbsim"
)

// slowNodeChecks compares p2c's p99 with round_robin's in the simulation
// and in the loopback run.
func slowNodeChecks(in *Inputs) []Check {
	return []Check{
		slowNodeCheck("simulation (virtual time)", in.Sim),
		slowNodeCheck("loopback run", in.Loopback),
	}
}

func slowNodeCheck(label string, rs map[string]lbsim.Result) Check {
	c := Check{Label: "p99, p2c vs round_robin, " + label, Target: "≤ 0.2×"}
	rr, okR := rs["round_robin"]
	pc, okP := rs["p2c"]
	if !okR || !okP || rr.P99 == 0 {
		c.Status, c.Measured, c.Note = NotMeasured, "—", "no results for round_robin and p2c"
		return c
	}
	c.Anchor, c.Ours = fmt.Sprintf("%.1f ms", rr.P99), fmt.Sprintf("%.1f ms", pc.P99)
	c.Value = pc.P99 / rr.P99
	c.Measured = fmt.Sprintf("%.2f×", c.Value)
	c.Status = judge(c.Value <= 0.2, false)
	c.Note = fmt.Sprintf("%d requests each", rr.Requests)
	return c
}

// chashChecks holds the balance at 100 endpoints to 1.05, bounded loads to
// the load factor and key movement to 1.1/N.
func chashChecks(in *Inputs) []Check {
	if in.CHash == nil {
		return []Check{{Label: "balance and movement", Measured: "—", Status: NotMeasured, Note: "no " + CHashFile}}
	}
	var out []Check
	for _, b := range in.CHash.Balance {
		out = append(out, balanceCheck(b))
	}
	for _, m := range in.CHash.Movement {
		out = append(out, movementCheck(m))
	}
	return out
}

func balanceCheck(b chash.Balance) Check {
	c := Check{Value: b.MaxMean, Measured: fmt.Sprintf("%.3f", b.MaxMean), Anchor: "1 (even)", Ours: fmt.Sprintf("%.3f", b.MaxMean)}
	if b.Bounded {
		c.Label = fmt.Sprintf("in-flight max/mean, bounded (loadFactor %g), %d endpoints", chash.LoadFactor, b.Endpoints)
		c.Target = fmt.Sprintf("≤ %g", chash.LoadFactor)
		c.Status = judge(b.MaxMean <= chash.LoadFactor, false)
		c.Note = fmt.Sprintf("%d requests held in flight", b.Keys)
		return c
	}
	c.Label = fmt.Sprintf("key max/mean, %d endpoints", b.Endpoints)
	c.Note = fmt.Sprintf("%d keys; sampling alone gives ≈ %.3f", b.Keys, b.NoiseFloor)
	if b.Endpoints != 100 {
		c.Target, c.Status = "—", Info
		return c
	}
	c.Target = "≤ 1.05"
	c.Status = judge(b.MaxMean <= 1.05, false)
	return c
}

func movementCheck(m chash.Movement) Check {
	kind := "unbounded"
	if m.Bounded {
		kind = "bounded"
	}
	c := Check{
		Label:  fmt.Sprintf("keys moved removing 1 of %d, %s", m.Endpoints, kind),
		Anchor: fmt.Sprintf("1/N = %.5f", m.Theory), Ours: fmt.Sprintf("%.5f", m.Moved),
		Value: m.Moved, Measured: fmt.Sprintf("%.2f/N", m.Moved*float64(m.Endpoints)),
		Target: "≤ 1.1/N", Note: fmt.Sprintf("%d keys; %d moved between endpoints that stayed", m.Keys, m.MovedElsewhere),
	}
	c.Status = judge(m.Moved <= m.Bound && m.MovedElsewhere == 0, false)
	return c
}

// RowResult is a row with its checks.
type RowResult struct {
	Row    Row
	Checks []Check
	Status Status // Missed if any check missed, else NotMeasured if any was not measured, else Met
}

// EvaluateRows checks every row against the inputs.
func EvaluateRows(in *Inputs, rows []Row) []RowResult {
	out := make([]RowResult, len(rows))
	for i, r := range rows {
		rr := RowResult{Row: r}
		stale := staleSuite(in.Bench, r.Requires)
		for _, p := range r.Pairs {
			c := p.Evaluate(in.Bench)
			if stale != "" {
				c = Check{Label: p.Label, Target: p.target(), Measured: "—", Status: NotMeasured,
					Note: "not measured in this run: the results predate " + stale}
				if p.Info {
					c.Status = Info
				}
			}
			rr.Checks = append(rr.Checks, c)
		}
		if r.Checks != nil {
			rr.Checks = append(rr.Checks, r.Checks(in)...)
		}
		rr.Status = rowStatus(rr.Checks)
		out[i] = rr
	}
	return out
}

func rowStatus(cs []Check) Status {
	st, judged := Met, false
	for _, c := range cs {
		switch c.Status {
		case Missed:
			return Missed
		case NotMeasured:
			st = NotMeasured
		}
		judged = judged || c.Status != Info
	}
	if !judged {
		return NotMeasured
	}
	return st
}

// staleSuite names the first of required that s has no runs of, or is "".
func staleSuite(s *Set, required []Key) string {
	for _, k := range required {
		if _, ok := s.Stat(k, "ns/op"); !ok {
			return k.String()
		}
	}
	return ""
}
