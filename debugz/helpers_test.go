package debugz_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/grpckit/grpckit/debugz"
)

// fetch GETs the page at query and returns the body, failing t on a status
// other than 200.
func fetch(t *testing.T, h http.Handler, query string) string {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", query, resp.Status, body)
	}
	srv.Client().CloseIdleConnections()
	return string(body)
}

// report fetches the page's JSON and decodes it.
func report(t *testing.T, p *debugz.Page) debugz.Report {
	t.Helper()
	var r debugz.Report
	body := fetch(t, p, "?format=json")
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("page JSON: %v\n%s", err, body)
	}
	if r.Schema != debugz.SchemaVersion {
		t.Fatalf("schema %q, want %q", r.Schema, debugz.SchemaVersion)
	}
	return r
}

// pageText fetches the HTML page, parses it, and returns its text (with
// cells separated by " | ") and every element's tag names, for
// assertions; it fails t if a script element is present.
func pageText(t *testing.T, p *debugz.Page) string {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(fetch(t, p, "")))
	if err != nil {
		t.Fatalf("page HTML: %v", err)
	}
	var b strings.Builder
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "script" {
			t.Errorf("page HTML has a <script> element")
		}
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
		if n.Type == html.ElementNode && (n.Data == "td" || n.Data == "th") {
			b.WriteString(" | ")
		}
	}
	walk(doc)
	return b.String()
}

// waitFor polls cond until it holds or 20s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// discard is a ResponseWriter that drops what it is given.
type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) Write(b []byte) (int, error) { return len(b), nil }
func (discard) WriteHeader(int)             {}

func newRequest() *http.Request { return httptest.NewRequest(http.MethodGet, "/", nil) }
