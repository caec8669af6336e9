package p2c

import (
	"math"
	"testing"
	"time"
)

// keyErrorBound is the relative error of an estimate stored in a key at
// now under tau, as the stats doc states it: the tag takes the last 8 of the
// key's 52 mantissa bits, so ln est is off by at most |key|·2^-44, and the
// estimate by as much relatively (for errors this small, e^x − 1 ≈ x).
func keyErrorBound(est float64, now int64, tau float64) float64 {
	return math.Ldexp(math.Abs(math.Log(max(est, 1)))+float64(now)/tau, -44) * 1.01
}

// TestKeyPrecision stores estimates from 1ns to 100s in keys at uptimes up
// to a century, under every bound of DecayTime, and checks each decodes
// within the bound the doc states; and that the bound stays below 1e-3
// after ten years at MinDecayTime.
func TestKeyPrecision(t *testing.T) {
	year := int64(365 * 24 * time.Hour)
	for _, tau := range []time.Duration{MinDecayTime, DefaultDecayTime, MaxDecayTime} {
		prm := &params{tau: float64(tau)}
		for _, now := range []int64{0, int64(time.Second), int64(time.Hour), year, 10 * year, 100 * year} {
			for est := 1.0; est <= 1e11; est *= 3.7 {
				got := prm.decode(prm.encode(est, now), now)
				bound := keyErrorBound(est, now, float64(tau))
				if rel := math.Abs(got/est - 1); rel > bound {
					t.Errorf("tau %v, uptime %v: estimate %g ns decodes as %g, relative error %.3g over the bound %.3g", tau, time.Duration(now), est, got, rel, bound)
				}
			}
		}
	}
	if b := keyErrorBound(1e11, 10*year, float64(MinDecayTime)); b > 1e-3 {
		t.Errorf("bound after ten years at MinDecayTime %.3g, want under 1e-3", b)
	}
}
