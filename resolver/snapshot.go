package resolver

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/resolver"
)

// SnapshotGrace is how long a Publisher with a Snapshot waits for the registry's
// first answer before it serves its snapshot. A registry error before then
// serves the snapshot at once.
const SnapshotGrace = time.Second

// DefaultSnapshotMaxAge is the age beyond which a snapshot is not served
// unless SnapshotMaxAge says otherwise: a set that old may well name servers
// decommissioned since.
const DefaultSnapshotMaxAge = 24 * time.Hour

// ErrSnapshotTooOld is wrapped by the error Load returns for a snapshot saved
// longer ago than its maximum age (see SnapshotMaxAge).
var ErrSnapshotTooOld = errors.New("grpckit/resolver: snapshot too old")

const (
	// snapshotVersion is the format version of a snapshot file; a file of
	// another version is ignored.
	snapshotVersion = 1
	// maxSnapshotSize bounds how much of a snapshot file Load reads.
	maxSnapshotSize = 16 << 20
	// maxReadableName bounds the readable part of a snapshot's file name.
	maxReadableName = 64
	// snapshotLogInterval spaces the log lines about failed writes.
	snapshotLogInterval = time.Minute
)

// Snapshot keeps the last good instance set of one target in a file, so that
// a client started while its registry is unreachable can serve that set (see
// Publisher).
//
// The file lives in the directory given to NewSnapshot, under a name derived
// from the target: its letters, digits, '-', '_' and '.' for people to read,
// and a hash of the whole target so that targets differing only in other
// characters get different files and no target can name a path outside the
// directory. It holds JSON: a format version, the target, the time of the
// write and the instances, that is what the registry says about them; a
// target never carries a credential. Save replaces the file atomically (a
// temporary file in the same directory, then a rename) with mode 0600, so
// channels and processes may share one directory. The file is not synced to
// disk: a machine crash may leave an older or a broken file, and a broken file
// is ignored.
//
// The registry's empty answer is saved too: after a scale to zero the file
// holds no instances, so a later cold start serves none instead of servers
// that are gone. A file saved longer ago than the maximum age
// (DefaultSnapshotMaxAge, or SnapshotMaxAge) is not loaded; a Publisher
// rewrites its file's time (Touch) while the registry answers, so the age
// counts from the last time a client saw the registry confirm the set.
//
// A Snapshot is safe for concurrent use.
type Snapshot struct {
	target string
	dir    string
	path   string
	now    func() time.Time
	maxAge time.Duration

	mu         sync.Mutex
	last       []Instance // the set last given to Save
	saving     bool       // Save was called: last is the set to keep
	onFile     bool       // the file holds last (its last write succeeded)
	loggedAt   time.Time  // of the last logged write failure
	suppressed int        // write failures not logged since
}

// SnapshotOption configures NewSnapshot.
type SnapshotOption func(*Snapshot) error

// SnapshotMaxAge sets how old a snapshot may be and still be loaded (default
// DefaultSnapshotMaxAge); it must be positive. The age counts from the last
// time a Publisher saved or touched the file, that is from about the last
// time a client of the target had a working registry (see Publisher).
func SnapshotMaxAge(d time.Duration) SnapshotOption {
	return func(s *Snapshot) error {
		if d <= 0 {
			return fmt.Errorf("grpckit/resolver: snapshot maximum age %v: want a positive duration", d)
		}
		s.maxAge = d
		return nil
	}
}

// NewSnapshot returns the Snapshot of target kept in dir. The directory is
// created (mode 0700) on the first Save. target identifies what was resolved,
// such as a canonical form of the channel's target; two resolvers that may
// return different sets must use different targets.
func NewSnapshot(dir, target string, opts ...SnapshotOption) (*Snapshot, error) {
	if dir == "" {
		return nil, errors.New("grpckit/resolver: snapshot directory is empty")
	}
	if target == "" {
		return nil, errors.New("grpckit/resolver: snapshot target is empty")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("grpckit/resolver: snapshot directory %q: %w", dir, err)
	}
	s := &Snapshot{target: target, dir: abs, path: filepath.Join(abs, snapshotFileName(target)), now: time.Now, maxAge: DefaultSnapshotMaxAge}
	for _, o := range opts {
		if err := o(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// MaxAge returns how old the snapshot may be and still be loaded.
func (s *Snapshot) MaxAge() time.Duration { return s.maxAge }

// Path returns the snapshot's file.
func (s *Snapshot) Path() string { return s.path }

// Target returns the target the snapshot belongs to.
func (s *Snapshot) Target() string { return s.target }

// snapshotFileName derives a file name from target that stays inside its
// directory: a readable part made of safe characters, and a hash of target.
func snapshotFileName(target string) string {
	var b strings.Builder
	for _, r := range target {
		if b.Len() >= maxReadableName {
			break
		}
		if !isNameChar(r) {
			r = '_'
		}
		if r == '_' && strings.HasSuffix(b.String(), "_") {
			continue
		}
		b.WriteRune(r)
	}
	readable := strings.Trim(b.String(), "._-")
	if readable == "" {
		readable = "snapshot"
	}
	sum := sha256.Sum256([]byte(target))
	return readable + "-" + hex.EncodeToString(sum[:8]) + ".json"
}

func isNameChar(r rune) bool {
	return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '_' || r == '.'
}

// snapshotFile is the JSON of a snapshot file.
type snapshotFile struct {
	Version   int               `json:"version"`
	Target    string            `json:"target"`
	Saved     time.Time         `json:"saved"`
	Instances []json.RawMessage `json:"instances"`
}

// snapshotInstance is the JSON of one Instance in a snapshot file.
type snapshotInstance struct {
	ID       string            `json:"id"`
	Service  string            `json:"service"`
	Addr     string            `json:"addr"`
	Weight   uint32            `json:"weight,omitempty"`
	Zone     string            `json:"zone,omitempty"`
	Version  string            `json:"version,omitempty"`
	Metadata map[string]string `json:"metadata,omitempty"`
}

// Save writes insts, in address order, as the target's last good set, unless
// this Snapshot already wrote that very set; an empty insts is a set too.
// An error leaves any previous file in place, and the next Save or Touch
// writes insts.
func (s *Snapshot) Save(insts []Instance) error {
	insts = slices.SortedFunc(slices.Values(insts), byAddr)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.onFile && slices.EqualFunc(insts, s.last, Instance.Equal) {
		return nil
	}
	s.last, s.saving = insts, true
	if err := s.writeLocked(); err != nil {
		return fmt.Errorf("grpckit/resolver: writing snapshot %s: %w", s.path, err)
	}
	return nil
}

// Touch writes the set last given to Save with the current time, so that
// its age counts from now. When that Save failed, Touch writes the set it
// could not: it never freshens a set a later Save replaced. It does nothing
// before the first Save.
func (s *Snapshot) Touch() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.saving {
		return nil
	}
	if err := s.writeLocked(); err != nil {
		return fmt.Errorf("grpckit/resolver: touching snapshot %s: %w", s.path, err)
	}
	return nil
}

// writeLocked writes s.last with the current time and records whether the
// file holds it.
func (s *Snapshot) writeLocked() error {
	s.onFile = false
	data, err := encodeSnapshot(s.target, s.now(), s.last)
	if err == nil {
		err = writeFileAtomic(s.dir, s.path, data)
	}
	s.onFile = err == nil
	return err
}

// touchInterval is how often a Publisher touches a snapshot whose maximum
// age is maxAge: often enough that a working client keeps it well within
// that age, at most hourly and at least every 100 ms.
func touchInterval(maxAge time.Duration) time.Duration {
	return min(max(maxAge/4, 100*time.Millisecond), time.Hour)
}

func encodeSnapshot(target string, saved time.Time, insts []Instance) ([]byte, error) {
	f := snapshotFile{Version: snapshotVersion, Target: target, Saved: saved.UTC(), Instances: make([]json.RawMessage, 0, len(insts))}
	for _, inst := range insts {
		raw, err := json.Marshal(snapshotInstance(inst))
		if err != nil {
			return nil, err
		}
		f.Instances = append(f.Instances, raw)
	}
	return json.MarshalIndent(f, "", " ")
}

// writeFileAtomic replaces path, in dir, with data: a reader sees the old
// file or the new one, never a part of it.
func writeFileAtomic(dir, path string, data []byte) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".snapshot-*.tmp") // mode 0600
	if err != nil {
		return err
	}
	_, err = tmp.Write(data)
	err = errors.Join(err, tmp.Close())
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}

// Load reads the snapshot and returns its valid instances and when they were
// saved. With no file, as on the first start, the error wraps fs.ErrNotExist.
// A file saved longer ago than the maximum age, or dated more than the
// maximum age ahead of the clock, gives an error wrapping ErrSnapshotTooOld. A file that cannot be used (unreadable, not JSON, another
// format version, another target) gives an error saying why. Invalid
// instances are skipped with a log line; the rest are returned.
func (s *Snapshot) Load() ([]Instance, time.Time, error) {
	data, err := readLimited(s.path, maxSnapshotSize)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("grpckit/resolver: reading snapshot: %w", err)
	}
	insts, saved, skipped, err := decodeSnapshot(s.target, data)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("grpckit/resolver: snapshot %s: %w", s.path, err)
	}
	switch age := s.now().Sub(saved); {
	case age > s.maxAge:
		return nil, time.Time{}, fmt.Errorf("%w: %s was saved %v ago, more than the maximum age %v",
			ErrSnapshotTooOld, s.path, age.Round(time.Second), s.maxAge)
	case -age > s.maxAge:
		// The clock was wrong when it was saved, or is now: its age is
		// unknown.
		return nil, time.Time{}, fmt.Errorf("%w: %s was saved %v in the future, more than the maximum age %v ahead of this clock",
			ErrSnapshotTooOld, s.path, (-age).Round(time.Second), s.maxAge)
	}
	if len(skipped) > 0 {
		logger.Warningf("grpckit/resolver: snapshot %s: skipped %d invalid instances; first: %v", s.path, len(skipped), skipped[0])
	}
	return insts, saved, nil
}

func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err == nil && int64(len(data)) > limit {
		err = fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return data, err
}

// decodeSnapshot parses a snapshot file of target. It returns the valid
// instances and why each invalid one was skipped.
func decodeSnapshot(target string, data []byte) (insts []Instance, saved time.Time, skipped []error, err error) {
	var f snapshotFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, time.Time{}, nil, fmt.Errorf("not a snapshot: %w", err)
	}
	if f.Version != snapshotVersion {
		return nil, time.Time{}, nil, fmt.Errorf("format version %d, want %d", f.Version, snapshotVersion)
	}
	if f.Target != target {
		return nil, time.Time{}, nil, fmt.Errorf("holds target %q, want %q", f.Target, target)
	}
	for i, raw := range f.Instances {
		inst, err := decodeSnapshotInstance(raw)
		if err != nil {
			skipped = append(skipped, fmt.Errorf("instance %d: %w", i, err))
			continue
		}
		insts = append(insts, inst)
	}
	return insts, f.Saved, skipped, nil
}

func decodeSnapshotInstance(raw json.RawMessage) (Instance, error) {
	var si snapshotInstance
	if err := json.Unmarshal(raw, &si); err != nil {
		return Instance{}, err
	}
	inst := Instance(si)
	return inst, inst.Validate()
}

// warnSaveFailed logs a failed write at most once per snapshotLogInterval.
func (s *Snapshot) warnSaveFailed(err error) {
	s.mu.Lock()
	now := s.now()
	if !s.loggedAt.IsZero() && now.Sub(s.loggedAt) < snapshotLogInterval {
		s.suppressed++
		s.mu.Unlock()
		return
	}
	n := s.suppressed
	s.loggedAt, s.suppressed = now, 0
	s.mu.Unlock()
	logger.Warningf("grpckit/resolver: %v (resolution goes on; %d failed writes not logged since the last line)", err, n)
}

// staleKey is the attribute key that marks a resolver.State served from a
// snapshot.
type staleKey struct{}

// IsStale reports whether s was served from a snapshot because the registry
// had not answered yet, rather than being the registry's answer.
func IsStale(s resolver.State) bool {
	stale, _ := s.Attributes.Value(staleKey{}).(bool)
	return stale
}

// setStale returns s marked as served from a snapshot.
func setStale(s resolver.State) resolver.State {
	s.Attributes = s.Attributes.WithValue(staleKey{}, true)
	return s
}
