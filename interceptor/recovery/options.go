package recovery

import "context"

// Panic describes a recovered panic.
type Panic struct {
	// Method is the full gRPC method, "/package.Service/Method".
	Method string
	// Value is what the handler passed to panic.
	Value any
	// Stack is the panicking goroutine's stack trace.
	Stack []byte
}

// HandlerFunc decides what a call whose handler panicked returns. The error
// goes to the client as it is, so it should be a status error that gives
// nothing away; a nil error means the default, codes.Internal.
type HandlerFunc func(ctx context.Context, p *Panic) error

// Option configures the interceptors. Options are evaluated once, when the
// interceptor is built; a nil Option is ignored (the constructors return no
// error, and recovery must never be what panics).
type Option func(*config)

type config struct {
	handle HandlerFunc
}

func newConfig(opts []Option) *config {
	c := &config{handle: logPanic}
	for _, o := range opts {
		if o != nil {
			o(c)
		}
	}
	return c
}

// WithHandler makes f handle recovered panics instead of the default, which
// logs the panic with its stack and returns codes.Internal. f replaces the
// logging too. A nil f keeps the default.
func WithHandler(f HandlerFunc) Option {
	return func(c *config) {
		if f != nil {
			c.handle = f
		}
	}
}
