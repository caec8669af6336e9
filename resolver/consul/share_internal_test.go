package consul

import "testing"

// Targets that ask the agent different questions must never share a watcher:
// a tag holding the separator of the joined tags must not pass for two tags.
func TestShareKeyTagsDoNotCollide(t *testing.T) {
	pairs := [][2]string{
		{"consul:///svc?tag=a%00b", "consul:///svc?tag=a&tag=b"},
		{"consul:///svc?tag=a%00", "consul:///svc?tag=a"},
		{"consul:///svc?tag=%00a", "consul:///svc?tag=a"},
	}
	for _, p := range pairs {
		a, err := parseTarget(mustTarget(t, p[0]))
		if err != nil {
			continue // refusing the target is fine too
		}
		b, err := parseTarget(mustTarget(t, p[1]))
		if err != nil {
			t.Fatalf("parseTarget(%q): %v", p[1], err)
		}
		if keyOf(a) == keyOf(b) {
			t.Errorf("%q and %q share a watcher but ask for different tags", p[0], p[1])
		}
	}
	same := [][2]string{{"consul:///svc?tag=b&tag=a&tag=b", "consul:///svc?tag=a&tag=b"}}
	for _, p := range same {
		a, _ := parseTarget(mustTarget(t, p[0]))
		b, _ := parseTarget(mustTarget(t, p[1]))
		if keyOf(a) != keyOf(b) {
			t.Errorf("%q and %q ask the same but do not share", p[0], p[1])
		}
	}
}
