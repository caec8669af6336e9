package debugz_test

import (
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/resolver/manual"

	"github.com/grpckit/grpckit/debugz"
	kitresolver "github.com/grpckit/grpckit/resolver"
)

// TestHostileStrings: strings from the registry and from request keys are
// escaped in the HTML (they appear as text, no element comes from them)
// and cut at MaxStringLen in both forms, so that a huge value cannot make
// the page huge.
func TestHostileStrings(t *testing.T) {
	const script = `<script>alert(document.cookie)</script>`
	attr := `" onmouseover="alert(1)`
	huge := strings.Repeat("<b>&amp;", 100000)
	p := debugz.New()
	r := manual.NewBuilderWithScheme("evil")
	r.InitialState(instanceState(kitresolver.Instance{
		ID: script, Service: "greeter", Addr: "127.0.0.1:1", Zone: attr, Version: huge,
		Metadata: map[string]string{"m": huge},
	}))
	cc, err := grpc.NewClient("evil:///"+script, grpc.WithResolvers(p.Builder(r)),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	cc.Connect()
	waitFor(t, "the resolver's state", func() bool {
		rs := p.Report().Resolvers
		return len(rs) == 1 && rs[0].Updates > 0
	})
	l := p.Limiter(script, scripted{reject: map[string]bool{script: true, huge: true}})
	l.Reserve(script, 0)
	l.Reserve(huge, 0)

	raw := fetch(t, p, "")
	if strings.Contains(raw, "<script") || strings.Contains(raw, `" onmouseover`) || strings.Contains(raw, "<b>") {
		t.Errorf("raw HTML holds a hostile string unescaped")
	}
	if len(raw) > 32<<10 {
		t.Errorf("page of %d bytes for a few hostile strings", len(raw))
	}
	text := pageText(t, p)
	for _, want := range []string{script + " | 127.0.0.1:1 | 1 | " + attr, "evil:///" + script} {
		if !strings.Contains(text, want) {
			t.Errorf("page text lacks %q", want)
		}
	}
	js := fetch(t, p, "?format=json")
	if len(js) > 32<<10 {
		t.Errorf("JSON of %d bytes for a few hostile strings", len(js))
	}
	rep := report(t, p)
	if v := rep.Resolvers[0].Instances[0].Version; len(v) > debugz.MaxStringLen+len("…") || !strings.HasSuffix(v, "…") {
		t.Errorf("version of %d bytes, not cut with a mark", len(v))
	}
}
