package snapshottest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/grpckit/grpckit/internal/testutil"
)

// Addrs returns the sorted addresses held by the one snapshot file matching
// pattern (see filepath.Glob), and fails the test unless there is exactly
// one and it parses.
func Addrs(t testing.TB, pattern string) []string {
	t.Helper()
	addrs, err := readAddrs(pattern)
	if err != nil {
		t.Fatal(err)
	}
	return addrs
}

// WaitAddrs polls until the one snapshot file matching pattern holds exactly
// the addresses want, in any order: a resolver writes its file just after it
// publishes. It fails the test at testutil.DefaultTimeout.
func WaitAddrs(t testing.TB, pattern string, want ...string) {
	t.Helper()
	want = slices.Sorted(slices.Values(want))
	ctx, cancel := context.WithTimeout(context.Background(), testutil.DefaultTimeout)
	defer cancel()
	for {
		got, err := readAddrs(pattern)
		if err == nil && slices.Equal(got, want) {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("snapshot %s holds %v (%v), want %v", pattern, got, err, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// readAddrs is Addrs, returning what is wrong instead of failing.
func readAddrs(pattern string) ([]string, error) {
	files, _ := filepath.Glob(pattern)
	if len(files) != 1 {
		return nil, fmt.Errorf("snapshot files matching %s: %v, want one", pattern, files)
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		return nil, err
	}
	var f struct {
		Instances []struct{ Addr string }
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("snapshot %s: %v", files[0], err)
	}
	addrs := make([]string, 0, len(f.Instances))
	for _, inst := range f.Instances {
		addrs = append(addrs, inst.Addr)
	}
	slices.Sort(addrs)
	return addrs, nil
}

// Age rewrites the one snapshot file matching pattern as if it had been
// saved age ago, and fails the test unless there is exactly one file.
func Age(t testing.TB, pattern string, age time.Duration) {
	t.Helper()
	files, _ := filepath.Glob(pattern)
	if len(files) != 1 {
		t.Fatalf("snapshot files matching %s: %v, want one", pattern, files)
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	var f map[string]json.RawMessage
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatalf("snapshot %s: %v", files[0], err)
	}
	f["saved"], _ = json.Marshal(time.Now().Add(-age).UTC())
	if data, err = json.Marshal(f); err == nil {
		err = os.WriteFile(files[0], data, 0o600)
	}
	if err != nil {
		t.Fatal(err)
	}
}
