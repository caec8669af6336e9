package report

import (
	"bufio"
	"fmt"
	"io"
	"maps"
	"regexp"
	"strconv"
	"strings"
)

// modulePrefix is cut from package paths: results are keyed by the path
// inside the module ("balancer/wrr").
const modulePrefix = "github.com/grpckit/grpckit/"

// Run is one result line of a benchmark: its iterations and its values by
// unit ("ns/op", "B/op", "allocs/op", and custom metrics such as "p99-µs").
type Run struct {
	Iterations int
	Values     map[string]float64
}

// Key names a benchmark: the package inside the module and the full name
// without the GOMAXPROCS suffix ("BenchmarkPick/endpoints=10/policy=round_robin").
type Key struct {
	Pkg, Name string
}

func (k Key) String() string { return k.Pkg + " " + k.Name }

// Set is the parsed output of one or more `go test -bench` runs.
type Set struct {
	// Config holds the header lines (goos, goarch, cpu) last seen.
	Config map[string]string
	// Runs holds each benchmark's result lines in the order they appeared.
	Runs map[Key][]Run
	// Order lists the benchmarks in the order they first appeared.
	Order []Key
}

// procsSuffix is the "-N" GOMAXPROCS suffix go test adds to names when N > 1.
var procsSuffix = regexp.MustCompile(`-\d+$`)

// Parse reads `go test -bench` output. Lines that are not results or
// package and configuration headers (logs, PASS, ok) are skipped; a result
// line that cannot be read is an error. The GOMAXPROCS suffix is dropped.
func Parse(r io.Reader) (*Set, error) { return parse(r, false) }

// ParseCPU is Parse for output of `go test -cpu`: the GOMAXPROCS a result
// ran at is kept in its name as a last element, "/cpu=N", so that runs at
// different -cpu values are told apart ("BenchmarkPick/endpoints=10/cpu=2";
// a name without suffix ran at GOMAXPROCS 1).
func ParseCPU(r io.Reader) (*Set, error) { return parse(r, true) }

// CPUName is name as ParseCPU keys the runs of name at GOMAXPROCS procs.
func CPUName(name string, procs int) string { return fmt.Sprintf("%s/cpu=%d", name, procs) }

func parse(r io.Reader, cpu bool) (*Set, error) {
	s := &Set{Config: map[string]string{}, Runs: map[Key][]Run{}}
	pkg := ""
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		if k, v, ok := headerLine(text); ok {
			if k == "pkg" {
				pkg = strings.TrimPrefix(v, modulePrefix)
			} else {
				s.Config[k] = v
			}
			continue
		}
		name, procs, run, ok, err := result(text)
		if err != nil {
			return nil, fmt.Errorf("report: line %d: %v", line, err)
		}
		if ok {
			if cpu {
				name = CPUName(name, procs)
			}
			s.add(Key{Pkg: pkg, Name: name}, run)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("report: %v", err)
	}
	return s, nil
}

// Merge adds o's runs to s; o's configuration headers win.
func (s *Set) Merge(o *Set) {
	for _, k := range o.Order {
		for _, r := range o.Runs[k] {
			s.add(k, r)
		}
	}
	maps.Copy(s.Config, o.Config)
}

func (s *Set) add(k Key, r Run) {
	if _, seen := s.Runs[k]; !seen {
		s.Order = append(s.Order, k)
	}
	s.Runs[k] = append(s.Runs[k], r)
}

// headerLine reads "key: value" lines of the known header keys.
func headerLine(line string) (key, value string, ok bool) {
	k, v, found := strings.Cut(line, ": ")
	switch k {
	case "pkg", "goos", "goarch", "cpu":
		return k, strings.TrimSpace(v), found
	}
	return "", "", false
}

// result reads a benchmark result line: the name, the iterations, then
// value–unit pairs. name is without the GOMAXPROCS suffix, which procs
// holds (1 without a suffix). ok is false for lines that are not results at
// all.
func result(line string) (name string, procs int, r Run, ok bool, err error) {
	f := strings.Fields(line)
	if len(f) == 0 || !strings.HasPrefix(f[0], "Benchmark") {
		return "", 0, Run{}, false, nil
	}
	if len(f) < 4 || len(f)%2 != 0 {
		if len(f) == 1 || !isDigits(f[1]) {
			return "", 0, Run{}, false, nil // a name printed before a benchmark's log lines
		}
		return "", 0, Run{}, false, fmt.Errorf("malformed result %q", line)
	}
	n, err := strconv.Atoi(f[1])
	if err != nil {
		return "", 0, Run{}, false, nil // "BenchmarkX ... --- FAIL" and the like
	}
	r = Run{Iterations: n, Values: make(map[string]float64, (len(f)-2)/2)}
	for i := 2; i < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return "", 0, Run{}, false, fmt.Errorf("value %q of %s: %v", f[i], f[0], err)
		}
		r.Values[f[i+1]] = v
	}
	name, procs = f[0], 1
	if m := procsSuffix.FindString(name); m != "" {
		procs, _ = strconv.Atoi(m[1:])
		name = name[:len(name)-len(m)]
	}
	return name, procs, r, true, nil
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}
