package shard

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// Duration is a time.Duration that reads from JSON as a string such as "10s",
// "1.5s" or "250ms" (protobuf's JSON form "1.5s" is accepted).
type Duration time.Duration

// UnmarshalJSON parses a quoted duration. Negative durations are refused.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string such as \"10s\": %v", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	if v < 0 {
		return fmt.Errorf("duration %q is negative", s)
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON writes the duration in the form UnmarshalJSON reads.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// MinRampFraction is the share of its full weight an endpoint gets when its
// slow start begins.
const MinRampFraction = 0.1

// Ramp returns the slow-start fraction of full weight for an endpoint READY
// since readySince: minFraction at first (MinRampFraction in grpckit's policies), rising linearly to 1 at the end of
// window. With a zero window it is always 1.
func Ramp(window time.Duration, readySince, now int64, minFraction float64) float64 {
	if window <= 0 {
		return 1
	}
	f := float64(now-readySince) / float64(window)
	if f >= 1 {
		return 1
	}
	return max(minFraction, f)
}

// Ramping reports whether an endpoint READY since readySince is still inside
// its slow-start window.
func Ramping(window time.Duration, readySince, now int64) bool {
	return window > 0 && now-readySince < int64(window)
}

// RefreshInterval is how often a policy with slow start rebuilds its picker
// while an endpoint ramps: twenty steps per window, at least every 10ms.
func RefreshInterval(window time.Duration) time.Duration {
	return max(window/20, 10*time.Millisecond)
}

// DecodeStrict decodes a policy's JSON configuration into v, refusing unknown
// fields so that a misspelt option is an error rather than silently ignored.
// Empty input leaves v as it is.
func DecodeStrict(js []byte, v any) error {
	if len(bytes.TrimSpace(js)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}
