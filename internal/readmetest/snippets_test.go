package readmetest

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestExtract(t *testing.T) {
	md := strings.Join([]string{
		"# title",              // 1
		"```sh",                // 2
		"<!-- snippet: no -->", // 3: inside another fence, not a marker
		"```",                  // 4
		"<!-- snippet: a -->",  // 5
		"",                     // 6
		"```go",                // 7
		"package main",         // 8
		"```",                  // 9
		"text",                 // 10
		"<!-- snippet: b-2 -->",
		"```go",
		"package b",
		"",
		"func f() {}",
		"```",
	}, "\n")
	got, err := Extract(md)
	if err != nil {
		t.Fatal(err)
	}
	want := []Snippet{
		{Name: "a", Line: 8, Code: "package main\n"},
		{Name: "b-2", Line: 13, Code: "package b\n\nfunc f() {}\n"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Extract (-want +got):\n%s", diff)
	}
	if f := got[0].File("README.md"); f != "//line README.md:8\npackage main\n" {
		t.Errorf("File = %q", f)
	}
}

func TestExtractRefuses(t *testing.T) {
	for _, tc := range []struct{ name, md, want string }{
		{"no marker", "```go\npackage main\n```\n", "without a <!-- snippet: name --> marker"},
		{"marker then text", "<!-- snippet: a -->\ntext\n```go\n```\n", `marker "a" is not followed by a go block`},
		{"marker then another fence", "<!-- snippet: a -->\n```sh\n```\n", `marker "a" is not followed by a go block`},
		{"marker at the end", "<!-- snippet: a -->\n", `marker "a" is not followed`},
		{"twice", "<!-- snippet: a -->\n```go\n```\n<!-- snippet: a -->\n```go\n```\n", `snippet "a" named twice`},
		{"unclosed", "<!-- snippet: a -->\n```go\npackage main\n", "no closing fence"},
	} {
		_, err := Extract(tc.md)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "readmetest: ") {
			t.Errorf("%s: Extract error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}
