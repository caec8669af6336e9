package retrybudget

import (
	"context"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// UnaryClientInterceptor returns a unary client interceptor that retries
// calls failing with a retryable code, as the Policy says, while b allows
// (see the package documentation), and deposits the calls that succeed.
// A retry the budget refuses is not sent: the call returns the error of its
// last attempt. An attempt that never reached a backend (no connection
// ready, or refused by a breaker or throttle inside this interceptor) is
// neither retried nor deposited: retrying it would not help a backend, and
// hammering an open breaker is what it is there to stop.
//
// The interceptor adds grpc.Trailer and grpc.Peer call options, to read
// the server's pushback and learn whether an attempt reached a backend, and
// grpc.MaxRetryRPCBufferSize(0), so that gRPC does not retry an attempt
// once its request is written, whatever the service config says (its
// transparent retries of attempts refused before they were written still
// happen). Interceptors inside it must pass call options on.
func (b *Budget) UnaryClientInterceptor() grpc.UnaryClientInterceptor { return b.unary }

// StreamClientInterceptor returns a streaming client interceptor that
// retries nothing and deposits every stream that ends with a status not in
// the policy's retryable codes, so streams earn retries for unary calls.
func (b *Budget) StreamClientInterceptor() grpc.StreamClientInterceptor { return b.stream }

// callPolicy is a Policy with its codes as a table.
type callPolicy struct {
	Policy
	codes [17]bool
}

func (p *callPolicy) set(pol Policy) {
	p.Policy = pol
	for _, c := range pol.RetryableStatusCodes {
		if int(c) < len(p.codes) {
			p.codes[c] = true
		}
	}
}

func (p *callPolicy) retryable(err error) bool {
	c := status.Code(err)
	return int(c) < len(p.codes) && p.codes[c]
}

// policyFor returns the policy a failed call to method is retried by, or
// nil if none: Policy, or with WithServiceConfigPolicy the method's
// retryPolicy in cc's service config. Only failed calls look it up.
func (b *Budget) policyFor(cc *grpc.ClientConn, method string) *callPolicy {
	if !b.opts.fromSC {
		return &b.policy
	}
	if cc == nil {
		return nil
	}
	rp := cc.GetMethodConfig(method).RetryPolicy
	if rp == nil || rp.MaxAttempts < 2 {
		return nil
	}
	p := &callPolicy{Policy: Policy{
		MaxAttempts:       min(rp.MaxAttempts, maxAttempts),
		InitialBackoff:    rp.InitialBackoff,
		MaxBackoff:        rp.MaxBackoff,
		BackoffMultiplier: rp.BackoffMultiplier,
	}}
	for c, ok := range rp.RetryableStatusCodes {
		if ok && int(c) < len(p.codes) {
			p.codes[c] = true
		}
	}
	return p
}

// succeeded reports whether a call's result is a success for the budget:
// the backend answered it, and the caller did not cancel it. p is the
// call's policy, nil for Policy.
func (b *Budget) succeeded(ctx context.Context, err error, p *callPolicy) bool {
	if err == nil {
		return true
	}
	if p == nil {
		p = &b.policy
	}
	c := status.Code(err)
	return !p.retryable(err) && c != codes.Canceled && c != codes.DeadlineExceeded && ctx.Err() == nil
}

// attempt holds one unary call's options with the trailer and peer options
// added, reused across calls.
type attempt struct {
	trailer metadata.MD
	peer    peer.Peer
	buf     [6]grpc.CallOption
}

// noGRPCRetry stops gRPC retrying an attempt once its request is written:
// gRPC commits a call (retries no more) when its replay buffer exceeds
// this size, and every message, even an empty one, has a 5-byte header.
var noGRPCRetry grpc.CallOption = grpc.MaxRetryRPCBufferSize(0)

var attempts = sync.Pool{New: func() any { return new(attempt) }}

func (b *Budget) unary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	a := attempts.Get().(*attempt)
	defer a.release()
	all := append(append(a.buf[:0], opts...),
		grpc.TrailerCallOption{TrailerAddr: &a.trailer}, grpc.PeerCallOption{PeerAddr: &a.peer}, noGRPCRetry)
	var p *callPolicy // the call's, looked up at its first failure
	for n := 1; ; n++ {
		a.trailer, a.peer = nil, peer.Peer{}
		err := invoker(ctx, method, req, reply, cc, all...)
		reached := a.peer.Addr != nil
		if err != nil && reached && n == 1 {
			p = b.policyFor(cc, method)
		}
		if !reached || p == nil || !p.retryable(err) || n >= p.MaxAttempts || ctx.Err() != nil {
			if reached && b.succeeded(ctx, err, p) {
				b.deposit()
			}
			return err
		}
		delay, ok := b.delay(&p.Policy, n, a.trailer)
		if !ok || pastDeadline(ctx, delay) || !b.TryRetry() {
			return err
		}
		if !sleep(ctx, delay) {
			return err
		}
	}
}

func (a *attempt) release() {
	clear(a.buf[:])
	a.trailer, a.peer = nil, peer.Peer{}
	attempts.Put(a)
}

// delay returns how long to wait before retry n (from 1), or false when the
// server's pushback says not to retry.
func (b *Budget) delay(p *Policy, n int, trailer metadata.MD) (time.Duration, bool) {
	if v := trailer.Get("grpc-retry-pushback-ms"); len(v) > 0 {
		ms, err := strconv.ParseInt(v[0], 10, 64)
		if len(v) > 1 || err != nil || ms < 0 || ms > int64(math.MaxInt64/time.Millisecond) {
			// As gRPC: an invalid pushback stops retrying; so does one
			// no time.Duration can hold, which would wrap to negative.
			return 0, false
		}
		return time.Duration(ms) * time.Millisecond, true
	}
	d := float64(p.InitialBackoff)
	for range n - 1 {
		d *= p.BackoffMultiplier
	}
	d = min(d, float64(p.MaxBackoff))
	return time.Duration(rand.Float64() * d), true
}

// pastDeadline reports whether a retry after d would start at or after
// ctx's deadline: it could not be sent, so it is neither waited for nor
// withdrawn from the budget.
func pastDeadline(ctx context.Context, d time.Duration) bool {
	deadline, ok := ctx.Deadline()
	return ok && time.Until(deadline) <= d
}

// sleep waits for d or until ctx ends, and reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (b *Budget) stream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	cs, err := streamer(ctx, desc, cc, method, opts...)
	if err != nil {
		return nil, err
	}
	return &clientStream{ClientStream: cs, ctx: ctx, b: b, serverStreams: desc.ServerStreams}, nil
}

// clientStream deposits its stream's success once, when the caller sees
// it end.
type clientStream struct {
	grpc.ClientStream
	ctx           context.Context
	b             *Budget
	serverStreams bool
	done          bool // only the goroutine calling RecvMsg touches it
}

func (s *clientStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if s.done {
		return err
	}
	switch {
	case errors.Is(err, io.EOF), err == nil && !s.serverStreams:
		s.done = true
		s.b.deposit()
	case err != nil:
		s.done = true
		if s.b.succeeded(s.ctx, err, nil) {
			s.b.deposit()
		}
	}
	return err
}
