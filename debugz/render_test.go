package debugz_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/grpckit/grpckit/debugz"
)

// TestPageHeaders: the HTML reloads itself at the page's interval (not at
// all with 0), runs no script by policy, and the page answers GET and HEAD
// only.
func TestPageHeaders(t *testing.T) {
	for _, tc := range []struct {
		refresh time.Duration
		want    string
	}{{0, ""}, {2 * time.Second, `<meta http-equiv="refresh" content="2">`}, {debugz.DefaultRefresh, `content="5"`}} {
		rec := httptest.NewRecorder()
		debugz.New(debugz.WithRefresh(tc.refresh)).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		body := rec.Body.String()
		if tc.want == "" && strings.Contains(body, "http-equiv") || !strings.Contains(body, tc.want) {
			t.Errorf("refresh %v: page head lacks %q or reloads anyway", tc.refresh, tc.want)
		}
		h := rec.Header()
		if !strings.HasPrefix(h.Get("Content-Type"), "text/html") || !strings.Contains(h.Get("Content-Security-Policy"), "default-src 'none'") ||
			h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Cache-Control") != "no-store" {
			t.Errorf("headers %v", h)
		}
	}
	rec := httptest.NewRecorder()
	debugz.New().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/?format=json", nil))
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("JSON content type %q", ct)
	}
	if !strings.Contains(rec.Body.String(), `"resolvers": []`) {
		t.Errorf("an empty page's lists are not []: %s", rec.Body.String())
	}
	rec = httptest.NewRecorder()
	debugz.New().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d, want 405", rec.Code)
	}
}
