package shard

import "time"

// Clock returns monotonic nanoseconds since an arbitrary origin. Policies take
// one so that tests and simulations can run on virtual time.
type Clock func() int64

// origin is the zero of Monotonic.
var origin = time.Now()

// Monotonic is the real Clock: nanoseconds on the monotonic clock since the
// process loaded this package.
func Monotonic() int64 { return int64(time.Since(origin)) }
