package consul_test

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/grpckit/grpckit/internal/testutil"
	kitresolver "github.com/grpckit/grpckit/resolver"
	"github.com/grpckit/grpckit/resolver/consul"
)

// longTTL keeps the registrars' loops of a test asleep while it runs, so
// only the test's calls change what the agent holds.
const longTTL = 10 * time.Minute

// genOf returns the "gen" metadata of the agent's registration of id, or ""
// if the agent does not hold id.
func genOf(t *testing.T, id string) string {
	t.Helper()
	svc, _, err := agent.Client().Agent().Service(id, (&api.QueryOptions{}).WithContext(timeoutCtx(t, testutil.DefaultTimeout)))
	var se api.StatusError
	if errors.As(err, &se) && se.Code == http.StatusNotFound {
		return ""
	}
	if err != nil {
		t.Fatalf("reading %s from the agent: %v", id, err)
	}
	return svc.Meta["gen"]
}

func registerGen(t *testing.T, cli *api.Client, id string, gen int, opts ...consul.RegisterOption) (*consul.Registration, error) {
	t.Helper()
	claimID(t, agent.Client(), id) // not through cli, whose requests a test may count
	inst := kitresolver.Instance{ID: id, Service: "greeter-owner", Addr: "127.0.0.1:1", Metadata: map[string]string{"gen": strconv.Itoa(gen)}}
	return consul.Register(timeoutCtx(t, testutil.DefaultTimeout), cli, inst, opts...)
}

// TestDeregisterKeepsNewerRegistration is a model-based test of ownership:
// random Registers (TTL or gRPC check) and Deregisters of one service ID, in
// any order. The model says the newest Register owns the ID; the agent must
// hold its registration exactly until it is deregistered, whatever older
// Registrations do.
func TestDeregisterKeepsNewerRegistration(t *testing.T) {
	t.Parallel()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	const id = "owner-model"
	live := map[int]*consul.Registration{}
	t.Cleanup(func() {
		for _, r := range live {
			_ = r.Deregister(timeoutCtx(t, testutil.DefaultTimeout))
		}
	})
	newest := -1 // gen of the registration the agent must hold; -1 for none
	for gen := 0; gen < 40; {
		var op string
		if len(live) == 0 || rng.IntN(2) == 0 {
			mode := consul.WithTTLCheck(longTTL)
			if rng.IntN(2) == 0 {
				mode = consul.WithCheckInterval(longTTL) // a gRPC check
			}
			r, err := registerGen(t, agent.Client(), id, gen, mode)
			if err != nil {
				t.Fatal(err)
			}
			live[gen], newest, op = r, gen, fmt.Sprintf("Register gen %d", gen)
			gen++
		} else {
			victim := pick(rng, live)
			if err := live[victim].Deregister(timeoutCtx(t, testutil.DefaultTimeout)); err != nil {
				t.Fatalf("Deregister gen %d: %v", victim, err)
			}
			delete(live, victim)
			if victim == newest {
				newest = -1
			}
			op = fmt.Sprintf("Deregister gen %d", victim)
		}
		want := ""
		if newest >= 0 {
			want = strconv.Itoa(newest)
		}
		if got := genOf(t, id); got != want {
			t.Fatalf("after %s: the agent holds gen %q, want %q (\"\" for none)", op, got, want)
		}
	}
}

// pick returns a random key of m.
func pick(rng *rand.Rand, m map[int]*consul.Registration) int {
	n := rng.IntN(len(m))
	for k := range m {
		if n == 0 {
			return k
		}
		n--
	}
	panic("unreachable")
}

// TestReplacedRegistrationStops: a Registration replaced by a newer one with
// the same ID stops keeping the ID registered, so once the newer one is
// deregistered the old one does not bring it back, and its Deregister
// succeeds.
func TestReplacedRegistrationStops(t *testing.T) {
	t.Parallel()
	// Its own ID, so that a repeated run waits for its own log line.
	id := fmt.Sprintf("owner-replaced-%d", time.Now().UnixNano())
	const ttl = 600 * time.Millisecond // the loops tick every 200ms
	old, err := registerGen(t, agent.Client(), id, 1, consul.WithTTLCheck(ttl))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = old.Deregister(timeoutCtx(t, testutil.DefaultTimeout)) })
	newer, err := registerGen(t, agent.Client(), id, 2, consul.WithTTLCheck(ttl))
	if err != nil {
		t.Fatal(err)
	}
	ctx := timeoutCtx(t, testutil.DefaultTimeout)
	for !strings.Contains(logs.String(), id+": the agent holds a newer registration") {
		if !sleepCtx(ctx, 20*time.Millisecond) {
			t.Fatal("the replaced registration did not notice the newer one")
		}
	}
	if err := newer.Deregister(ctx); err != nil {
		t.Fatal(err)
	}
	// Five loop periods: a loop still running would register the ID again.
	for end := time.Now().Add(5 * ttl / 3); time.Now().Before(end); sleepCtx(ctx, 20*time.Millisecond) {
		if got := genOf(t, id); got != "" {
			t.Fatalf("the agent holds gen %q after the newest registration was deregistered", got)
		}
	}
	if err := old.Deregister(ctx); err != nil {
		t.Fatalf("Deregister of the replaced registration: %v", err)
	}
}

func sleepCtx(ctx interface{ Done() <-chan struct{} }, d time.Duration) bool {
	select {
	case <-time.After(d):
		return true
	case <-ctx.Done():
		return false
	}
}

// faultyTransport fails the failAt-th request (from 0) it carries: before
// sending it, or after the agent answered it, as a lost answer.
type faultyTransport struct {
	base      *http.Transport
	failAt    int32
	afterSend bool
	n         atomic.Int32
}

func (f *faultyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if f.n.Add(1)-1 != f.failAt {
		return f.base.RoundTrip(req)
	}
	if f.afterSend {
		resp, err := f.base.RoundTrip(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	return nil, fmt.Errorf("injected fault in %s %s", req.Method, req.URL.Path)
}

// TestRegisterRollsBack: whichever request of Register fails, before or
// after the agent applied it, Register returns an error and the agent holds
// nothing; with no fault it holds the service.
func TestRegisterRollsBack(t *testing.T) {
	t.Parallel()
	ttl := []consul.RegisterOption{consul.WithTTLCheck(longTTL)}
	grpcCheck := []consul.RegisterOption{consul.WithCheckInterval(time.Minute)}
	tests := []struct {
		name      string
		opts      []consul.RegisterOption
		failAt    int32 // -1: no fault
		afterSend bool
	}{
		{"ttl, no fault", ttl, -1, false},
		{"ttl, register fails", ttl, 0, false},
		{"ttl, register answer lost", ttl, 0, true},
		{"ttl, first TTL report fails", ttl, 1, false},
		{"ttl, first TTL report answer lost", ttl, 1, true},
		{"grpc, no fault", grpcCheck, -1, false},
		{"grpc, register fails", grpcCheck, 0, false},
		{"grpc, register answer lost", grpcCheck, 0, true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ft := &faultyTransport{base: http.DefaultTransport.(*http.Transport).Clone(), failAt: tt.failAt, afterSend: tt.afterSend}
			t.Cleanup(ft.base.CloseIdleConnections)
			cfg := agent.Config()
			cfg.HttpClient = &http.Client{Transport: ft}
			cli, err := api.NewClient(cfg)
			if err != nil {
				t.Fatal(err)
			}
			id := fmt.Sprintf("owner-rollback-%d", i)
			r, err := registerGen(t, cli, id, 1, tt.opts...)
			got := genOf(t, id)
			if tt.failAt < 0 {
				if err != nil || got != "1" {
					t.Fatalf("Register() = %v, agent holds %q; want success and gen 1", err, got)
				}
				if err := r.Deregister(timeoutCtx(t, testutil.DefaultTimeout)); err != nil {
					t.Fatal(err)
				}
				if got := genOf(t, id); got != "" {
					t.Fatalf("Deregister left gen %q registered", got)
				}
				return
			}
			if err == nil {
				t.Cleanup(func() { _ = r.Deregister(timeoutCtx(t, testutil.DefaultTimeout)) })
				t.Fatalf("Register() succeeded despite the fault")
			}
			if !strings.Contains(err.Error(), "injected fault") || !strings.HasPrefix(err.Error(), "consul: registering "+id) {
				t.Fatalf("Register() error %q, want it to name the service and the fault", err)
			}
			if got != "" {
				t.Fatalf("Register() failed (%v) but left gen %q registered", err, got)
			}
		})
	}
}

// TestReplacedRegistrationDrain: draining a Registration another replaced
// leaves the newer one registered and passing.
func TestReplacedRegistrationDrain(t *testing.T) {
	t.Parallel()
	const id = "owner-drain"
	old, err := registerGen(t, agent.Client(), id, 1, consul.WithTTLCheck(longTTL))
	if err != nil {
		t.Fatal(err)
	}
	newer, err := registerGen(t, agent.Client(), id, 2, consul.WithTTLCheck(longTTL))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = newer.Deregister(timeoutCtx(t, testutil.DefaultTimeout)) })
	if err := old.Drain(timeoutCtx(t, testutil.DefaultTimeout), nil); err != nil {
		t.Fatalf("Drain of the replaced registration: %v", err)
	}
	if got := genOf(t, id); got != "2" {
		t.Fatalf("after the old one drained, the agent holds gen %q, want 2", got)
	}
	st, _, err := agent.Client().Agent().AgentHealthServiceByIDOpts(id, (&api.QueryOptions{}).WithContext(timeoutCtx(t, testutil.DefaultTimeout)))
	if err != nil || st != api.HealthPassing {
		t.Fatalf("the newer registration's health is %q (%v), want passing", st, err)
	}
}

// TestOlderRegistrationIsTakenBack: when the agent lost its state and an
// older registration of the ID, replaced but not yet aware of it, registered
// itself again first, the newest registration does not give up the ID to it:
// it registers itself again, so the agent ends up holding the newest, and the
// older one's Deregister leaves it.
func TestOlderRegistrationIsTakenBack(t *testing.T) {
	t.Parallel()
	id := fmt.Sprintf("owner-takeback-%d", time.Now().UnixNano())
	old, err := registerGen(t, agent.Client(), id, 1, consul.WithTTLCheck(longTTL)) // its loop stays asleep
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = old.Deregister(timeoutCtx(t, testutil.DefaultTimeout)) })
	checks, err := agent.Client().Agent().Checks()
	if err != nil || checks["service:"+id] == nil {
		t.Fatalf("reading the old registration's check: %v", err)
	}
	// The old registration as if made an hour ago, as a long-running server
	// replaced by a new one with the same ID would be.
	nonce, _, _ := strings.Cut(checks["service:"+id].Notes, " made ")
	oldNotes := nonce + " made " + time.Now().Add(-time.Hour).UTC().Format(time.RFC3339Nano)
	newer, err := registerGen(t, agent.Client(), id, 2, consul.WithTTLCheck(600*time.Millisecond)) // ticks every 200ms
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = newer.Deregister(timeoutCtx(t, testutil.DefaultTimeout)) })

	// The agent forgets the ID and the old registration wins the race to
	// register it again: what its loop would send, with its Notes. (A
	// registration made a minute or less before would not be taken back.)
	if err := agent.Client().Agent().ServiceDeregister(id); err != nil {
		t.Fatal(err)
	}
	reg := &api.AgentServiceRegistration{ID: id, Name: "greeter-owner", Address: "127.0.0.1", Port: 1, Meta: map[string]string{"gen": "1"},
		Check: &api.AgentServiceCheck{CheckID: "service:" + id, Name: "grpckit TTL", TTL: longTTL.String(), Notes: oldNotes}}
	if err := agent.Client().Agent().ServiceRegister(reg); err != nil {
		t.Fatal(err)
	}
	ctx := timeoutCtx(t, testutil.DefaultTimeout)
	for genOf(t, id) != "2" {
		if !sleepCtx(ctx, 20*time.Millisecond) {
			t.Fatalf("the agent holds gen %q, want the newest registration, 2, back", genOf(t, id))
		}
	}
	if err := old.Deregister(ctx); err != nil {
		t.Fatal(err)
	}
	if got := genOf(t, id); got != "2" {
		t.Fatalf("after the old registration's Deregister the agent holds gen %q, want 2", got)
	}
}
