package readmetest

import (
	"bufio"
	"fmt"
	"regexp"
	"strings"
)

// Snippet is one fenced go block of a Markdown file.
type Snippet struct {
	Name string // from the marker before the block
	Line int    // line of the block's first line of code, counting from 1
	Code string
}

var markerRE = regexp.MustCompile(`^<!--\s*snippet:\s*([a-z0-9][a-z0-9-]*)\s*-->$`)

// Extract returns the fenced go blocks of the Markdown text md, in order.
// Every go block must follow a line "<!-- snippet: name -->" (blank lines
// between are allowed), with names unique; a block without one is an error,
// so no snippet escapes the tests.
func Extract(md string) ([]Snippet, error) {
	var (
		snippets []Snippet
		seen     = map[string]bool{}
		marker   string // the marker waiting for its block
		cur      *Snippet
		code     strings.Builder
		inFence  bool // inside a fence of another language
		lineNo   int
	)
	sc := bufio.NewScanner(strings.NewReader(md))
	for sc.Scan() {
		lineNo++
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case cur != nil && trimmed == "```":
			cur.Code = code.String()
			snippets = append(snippets, *cur)
			cur = nil
		case cur != nil:
			code.WriteString(line + "\n")
		case inFence:
			inFence = trimmed != "```"
		case trimmed == "```go":
			if marker == "" {
				return nil, fmt.Errorf("readmetest: line %d: a go block without a <!-- snippet: name --> marker before it", lineNo)
			}
			cur = &Snippet{Name: marker, Line: lineNo + 1}
			code.Reset()
			marker = ""
		case strings.HasPrefix(trimmed, "```") && marker == "":
			inFence = true
		case markerRE.MatchString(trimmed):
			name := markerRE.FindStringSubmatch(trimmed)[1]
			if seen[name] {
				return nil, fmt.Errorf("readmetest: line %d: snippet %q named twice", lineNo, name)
			}
			seen[name] = true
			marker = name
		case trimmed != "" && marker != "":
			return nil, fmt.Errorf("readmetest: line %d: snippet marker %q is not followed by a go block", lineNo, marker)
		}
	}
	if cur != nil {
		return nil, fmt.Errorf("readmetest: snippet %q (line %d) has no closing fence", cur.Name, cur.Line)
	}
	if marker != "" {
		return nil, fmt.Errorf("readmetest: snippet marker %q is not followed by a go block", marker)
	}
	return snippets, sc.Err()
}

// File returns the snippet as a Go source file whose positions name the
// README's lines, through a //line directive.
func (s Snippet) File(mdPath string) string {
	return fmt.Sprintf("//line %s:%d\n%s", mdPath, s.Line, s.Code)
}
