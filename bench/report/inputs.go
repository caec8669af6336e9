package report

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/grpckit/grpckit/bench/chash"
	"github.com/grpckit/grpckit/bench/internal/jsonfile"
	"github.com/grpckit/grpckit/bench/lbsim"
	"github.com/grpckit/grpckit/bench/load"
	"github.com/grpckit/grpckit/bench/overload"
	"github.com/grpckit/grpckit/bench/relist"
)

// The files of a results directory, as scripts/bench.sh writes them.
const (
	BenchFile     = "bench.txt"
	PicksFile     = "picks.txt" // the pick benchmarks at -cpu 1,2, read with ParseCPU
	MachineFile   = "machine.txt"
	PicksMachine  = "picks-machine.txt" // machine.txt of the run that wrote picks.txt
	SimFile       = "lbsim-sim.json"
	LoopbackFile  = "lbsim-loopback.json"
	CHashFile     = "chash.json"
	LoadFile      = "load.json"
	BenchstatFile = "benchstat.txt"
)

// Inputs are the raw results the report is made from. Everything but Bench
// may be missing; the report then says so.
type Inputs struct {
	Bench   *Set
	Machine [][2]string // key–value lines of machine.txt, in order
	// PicksMachine is picks-machine.txt: the machine the pick benchmarks
	// ran on, which may be a later run than the rest.
	PicksMachine [][2]string
	Sim          map[string]lbsim.Result
	Loopback     map[string]lbsim.Result
	CHash        *chash.Results
	Load         *load.File
	Benchstat    string
	// Overload and ClientOverload are the overload runs; ClientOverloadNote
	// the hand-written client overload section used without its JSON.
	Overload           *overload.File
	ClientOverload     *ClientOverload
	ClientOverloadNote string
	OverloadNote       string // notes written by hand on the overload run
	// Relist is the virtual-time re-list simulation of a fleet.
	Relist *relist.File
}

// Load reads the results directory dir.
func Load(dir string) (*Inputs, error) {
	in := &Inputs{}
	f, err := os.Open(filepath.Join(dir, BenchFile))
	if err != nil {
		return nil, fmt.Errorf("report: %v", err)
	}
	defer f.Close()
	if in.Bench, err = Parse(f); err != nil {
		return nil, err
	}
	if err := mergeCPU(in.Bench, filepath.Join(dir, PicksFile)); err != nil {
		return nil, err
	}
	if in.Machine, err = readMachine(filepath.Join(dir, MachineFile)); err != nil {
		return nil, err
	}
	if in.PicksMachine, err = readMachine(filepath.Join(dir, PicksMachine)); err != nil {
		return nil, err
	}
	for name, v := range map[string]any{SimFile: &in.Sim, LoopbackFile: &in.Loopback, CHashFile: &in.CHash, LoadFile: &in.Load, RelistFile: &in.Relist} {
		if err := readJSON(filepath.Join(dir, name), v); err != nil {
			return nil, err
		}
	}
	if err := loadOverload(dir, in); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(dir, BenchstatFile))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("report: %v", err)
	}
	in.Benchstat = string(b)
	return in, nil
}

// mergeCPU adds the runs of the -cpu results file path, if there is one, to s.
func mergeCPU(s *Set, path string) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("report: %v", err)
	}
	defer f.Close()
	picks, err := ParseCPU(f)
	if err != nil {
		return fmt.Errorf("report: %s: %v", path, err)
	}
	s.Merge(picks)
	return nil
}

// readJSON decodes path into v; a missing file leaves v as it is.
func readJSON(path string, v any) error {
	err := jsonfile.Read(path, v)
	if err == nil || errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return fmt.Errorf("report: %s: %v", path, err)
}

// readMachine reads "key: value" lines; a missing file gives none.
func readMachine(path string) ([][2]string, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("report: %v", err)
	}
	defer f.Close()
	var out [][2]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ": "); ok {
			out = append(out, [2]string{k, v})
		}
	}
	return out, sc.Err()
}
