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

// observingCC is a ClientConn that observes the registry errors kept from
// its channel.
type observingCC struct {
	*testutil.ResolverClientConn
	observed []error
}

func (c *observingCC) RegistryError(err error) { c.observed = append(c.observed, err) }

// TestPublisherTellsErrorObserver: an error the channel is not told of
// (after the first answer) reaches a ClientConn that observes them; one
// before the first answer goes to ReportError only; nothing after Close.
func TestPublisherTellsErrorObserver(t *testing.T) {
	cc := &observingCC{ResolverClientConn: testutil.NewResolverClientConn()}
	p := kitresolver.NewPublisher(cc, nil)
	first, later := errors.New("before the answer"), errors.New("after the answer")
	p.Fail(first)
	if len(cc.observed) != 0 {
		t.Fatalf("observed %v before the first answer, want it reported to the channel instead", cc.observed)
	}
	if err := p.Publish([]kitresolver.Instance{{Service: "s", Addr: "a:1"}}); err != nil {
		t.Fatal(err)
	}
	p.Fail(later)
	p.Observe(later)
	if len(cc.observed) != 2 || cc.observed[0] != later || cc.observed[1] != later {
		t.Fatalf("observed %v, want the error after the answer twice (Fail, Observe)", cc.observed)
	}
	p.Close()
	p.Observe(later)
	if len(cc.observed) != 2 {
		t.Fatalf("observed %d errors after Close, want none", len(cc.observed)-2)
	}
}
