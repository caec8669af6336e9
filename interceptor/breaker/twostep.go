package breaker

import (
	"reflect"
	"unsafe"

	"github.com/sony/gobreaker/v2"
)

// A key's breaker must serve two kinds of call on one state: streams need
// gobreaker's TwoStepCircuitBreaker (admit now, record when the stream
// ends), while unary calls need CircuitBreaker.Execute, the only way through
// gobreaker that allocates nothing (TwoStepCircuitBreaker.Allow allocates
// its done closure on every call). gobreaker builds a TwoStepCircuitBreaker
// around a private *CircuitBreaker and offers no accessor, so innerBreaker
// reads that field once, at construction, after checking by reflection that
// it is exactly the field expected. If a gobreaker release changes the
// layout, the check fails and unary calls fall back to Allow (one
// allocation more, same behaviour); TestInnerBreaker catches that.

type breakerT = gobreaker.CircuitBreaker[struct{}]

// innerBreaker returns the CircuitBreaker inside ts, or nil if gobreaker's
// layout is not the one expected.
func innerBreaker(ts *gobreaker.TwoStepCircuitBreaker[struct{}]) *breakerT {
	v := reflect.ValueOf(ts).Elem()
	if v.NumField() != 1 {
		return nil
	}
	f := v.Type().Field(0)
	if f.Name != "cb" || f.Type != reflect.TypeFor[*breakerT]() {
		return nil
	}
	return *(**breakerT)(unsafe.Pointer(v.Field(0).UnsafeAddr()))
}
