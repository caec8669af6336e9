package ratelimit

import (
	"context"
	"math"
	"strconv"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// PushbackTrailer is the trailer in which a rejection tells the client how
// many milliseconds to wait before retrying; gRPC's retry policy honours it,
// and so do this package's client interceptors.
const PushbackTrailer = "grpc-retry-pushback-ms"

// unlimited admits everything.
type unlimited struct{}

func (unlimited) Reserve(string, time.Duration) (time.Duration, bool) { return 0, true }

// Unlimited is a Limiter that admits every request. Give it to a client
// interceptor that should only honour the servers' pushback.
var Unlimited Limiter = unlimited{}

// gate applies a limiter to requests, the same way for every interceptor.
type gate struct {
	l      Limiter
	o      *options
	client bool // a client's gate: its rejections say the client held the call back
	m      *gateMetrics
}

func newGate(l Limiter, opts []Option, client bool) *gate {
	o := evalOptions(opts)
	if l == nil {
		l = defaultLimiter(o.clock)
	}
	return &gate{l: l, o: o, client: client, m: newGateMetrics(o.meterProvider, client)}
}

// defaultLimiter is a global token bucket of DefaultRate and DefaultBurst.
func defaultLimiter(c Clock) Limiter {
	tb, err := NewTokenBucket(DefaultRate, DefaultBurst, WithClock(c))
	if err != nil {
		panic(err) // the defaults are valid
	}
	return tb
}

// budget is how long a request may wait: 0 in reject mode, else the
// configured maximum cut to what is left before ctx's deadline.
func (g *gate) budget(ctx context.Context) time.Duration {
	if g.o.maxWait == 0 {
		return 0
	}
	w := g.o.maxWait
	if dl, ok := ctx.Deadline(); ok {
		w = min(w, dl.Sub(g.o.clock.Now()))
	}
	return max(w, 0)
}

// admit asks l for one request under key. It returns nil once the request
// may go ahead (after waiting, in wait mode), or a status error: the
// rejection, with the delay to push back by, or the context's error if it
// ended during the wait. A wait that ends with the context gives the
// admission back when l is a Canceler.
func (g *gate) admit(ctx context.Context, l Limiter, key, method string) (pushback time.Duration, err error) {
	c, at, d, ok := reserve(l, key, g.budget(ctx))
	if !ok {
		recordReject(ctx, decisionRejected, d)
		g.m.recordReject(ctx, false)
		return d, g.reject(method, d)
	}
	if d > 0 {
		if err := g.wait(ctx, d); err != nil {
			if c != nil {
				c.Cancel(key, at)
			}
			return 0, err
		}
	}
	recordAdmit(ctx, d)
	g.m.recordAdmit(ctx, d)
	return 0, nil
}

// reserve asks l for one request under key, waiting at most budget. When l
// is a Canceler and the request may wait, it returns l as c, and at, for
// cancelling the admission; else c is nil.
func reserve(l Limiter, key string, budget time.Duration) (c Canceler, at time.Time, d time.Duration, ok bool) {
	if budget > 0 {
		if c, canCancel := l.(Canceler); canCancel {
			at, d, ok = c.ReserveAt(key, budget)
			return c, at, d, ok
		}
	}
	d, ok = l.Reserve(key, budget)
	return nil, at, d, ok
}

// wait blocks for d or until ctx ends.
func (g *gate) wait(ctx context.Context, d time.Duration) error {
	c, stop := g.o.clock.NewTimer(d)
	defer stop()
	select {
	case <-c:
		return nil
	case <-ctx.Done():
		return status.FromContextError(ctx.Err()).Err()
	}
}

// reject is the status a request the limiter refused fails with. On a
// client it says that the client held the call back, so that nobody takes it
// for a server's rejection.
func (g *gate) reject(method string, retry time.Duration) error {
	if logger.V(2) {
		logger.Infof("ratelimit: %s rejected, retry in %v", method, retry)
	}
	if g.client {
		return status.Errorf(codes.ResourceExhausted, "ratelimit: %s held back by the client: its rate limit is exceeded, retry in %v", method, retry)
	}
	return status.Errorf(codes.ResourceExhausted, "ratelimit: %s rejected: rate limit exceeded, retry in %v", method, retry)
}

// pushbackMD is the trailer that asks the client to wait d before retrying,
// in whole milliseconds rounded up, at least 1.
func pushbackMD(d time.Duration) metadata.MD {
	ms := max(int64(math.Ceil(float64(d)/float64(time.Millisecond))), 1)
	return metadata.Pairs(PushbackTrailer, strconv.FormatInt(ms, 10))
}

// parsePushback reads the pushback trailer: ok is false when there is none,
// several values, or one that is malformed or negative (gRPC's retry reads a
// single valid value only, and none of the others as a delay).
func parsePushback(md metadata.MD) (time.Duration, bool) {
	v := md.Get(PushbackTrailer)
	if len(v) != 1 {
		return 0, false
	}
	ms, err := strconv.ParseInt(v[0], 10, 64)
	if err != nil || ms < 0 || ms > math.MaxInt64/int64(time.Millisecond) {
		return 0, false
	}
	return time.Duration(ms) * time.Millisecond, true
}
