package testutil

import (
	"context"
	"fmt"
)

// Latest is a channel that keeps the newest values: Send never blocks, and when
// the buffer is full the oldest value is dropped.
type Latest[T any] struct {
	ch chan T
}

// NewLatest returns a Latest that buffers up to n values.
func NewLatest[T any](n int) *Latest[T] {
	return &Latest[T]{ch: make(chan T, n)}
}

// Send queues v, dropping the oldest queued value when the buffer is full.
func (l *Latest[T]) Send(v T) {
	for {
		select {
		case l.ch <- v:
			return
		default:
		}
		select {
		case <-l.ch:
		default:
		}
	}
}

// C returns the channel to receive from.
func (l *Latest[T]) C() <-chan T { return l.ch }

// Receive waits for the next value until ctx is done.
func (l *Latest[T]) Receive(ctx context.Context) (T, error) {
	select {
	case v := <-l.ch:
		return v, nil
	case <-ctx.Done():
		var zero T
		return zero, fmt.Errorf("testutil: no value before the deadline: %w", ctx.Err())
	}
}

// Drain discards every queued value and returns the newest, if any.
func (l *Latest[T]) Drain() (last T, ok bool) {
	for {
		select {
		case v := <-l.ch:
			last, ok = v, true
		default:
			return last, ok
		}
	}
}
