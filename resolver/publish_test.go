package resolver_test

import (
	"context"
	"errors"
	"testing"

	"github.com/grpckit/grpckit/internal/testutil"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

func TestPublisherKeepsLastGood(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testutil.DefaultTimeout)
	defer cancel()
	cc := testutil.NewResolverClientConn()
	p := kitresolver.NewPublisher(cc, nil)

	boom := errors.New("registry down")
	if !p.Fail(boom) {
		t.Fatal("Fail before any Publish did not report the error")
	}
	if err, _ := cc.Errors.Receive(ctx); !errors.Is(err, boom) {
		t.Fatalf("ReportError got %v, want %v", err, boom)
	}

	if err := p.Publish([]kitresolver.Instance{{Service: "s", Addr: "a:1"}}); err != nil {
		t.Fatalf("Publish() = %v", err)
	}
	if s, _ := cc.States.Receive(ctx); len(s.Endpoints) != 1 {
		t.Fatalf("published %d endpoints, want 1", len(s.Endpoints))
	}

	if p.Fail(boom) {
		t.Fatal("Fail after Publish reported the error; want the last good set kept")
	}
	if _, ok := cc.Errors.Drain(); ok {
		t.Fatal("ReportError called after a good set was published")
	}
	if _, ok := cc.States.Drain(); ok {
		t.Fatal("an error published a new state")
	}

	if err := p.Publish(nil); err != nil {
		t.Fatalf("Publish(nil) = %v", err)
	}
	if s, _ := cc.States.Receive(ctx); len(s.Endpoints) != 0 {
		t.Fatalf("empty registry published %d endpoints, want 0", len(s.Endpoints))
	}
}

func TestPublisherReturnsUpdateStateError(t *testing.T) {
	cc := testutil.NewResolverClientConn()
	rejected := errors.New("bad state")
	cc.SetUpdateStateErr(rejected)
	if err := kitresolver.NewPublisher(cc, nil).Publish(nil); !errors.Is(err, rejected) {
		t.Fatalf("Publish() = %v, want %v", err, rejected)
	}
}
