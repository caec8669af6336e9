package ratelimit

import (
	"hash/maphash"
	"math/bits"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// numShards is the most shards a store splits its keys into, so that
// inserts under different keys rarely share a lock. A power of two.
const numShards = 64

// minShardKeys is the fewest keys a shard is made to hold: a store bounded
// to fewer than numShards×minShardKeys keys uses fewer shards, so that the
// unevenness of a hash over few keys per shard does not evict keys long
// before the store is full.
const minShardKeys = 256

// evictSample is how many entries an insert into a full shard looks at to
// choose the least recently used one to evict (sampled LRU).
const evictSample = 8

// idleSample is how many entries every insert looks at for idle eviction.
const idleSample = 2

// minSlots is the size of a shard's table before its first key.
const minSlots = 8

// entry is the state of one key and when it was last used. The key and its
// hash are immutable once the entry is published. They fill the first cache
// line, apart from val, which requests write: lookups from other cores then
// find the key in a line they already hold.
type entry[T any] struct {
	key  string
	hash uint64
	seen atomic.Int64 // tick of the last use, see store
	_    [64 - 32]byte
	val  T
}

// table is an open-addressing hash table with linear probing. Readers load
// slots atomically and take no lock; only the shard's writer, under the
// shard's mutex, stores into them. A slot is nil (never used, ends a probe),
// a live entry, or the store's tombstone (a deleted entry: probes go on).
// A table never fills up: at most 3/4 of its slots are non-nil, so every
// probe ends.
type table[T any] struct {
	mask  uint64
	slots []atomic.Pointer[entry[T]]
}

func newTable[T any](size int) *table[T] {
	return &table[T]{mask: uint64(size - 1), slots: make([]atomic.Pointer[entry[T]], size)}
}

// start is the first slot of a probe for hash h. The low bits of h chose the
// shard, so the slot uses the others.
func (t *table[T]) start(h uint64) uint64 { return (h >> 8) & t.mask }

// find returns the entry of key, or nil. It takes no lock.
func (t *table[T]) find(key string, h uint64) *entry[T] {
	for i := t.start(h); ; i = (i + 1) & t.mask {
		e := t.slots[i].Load()
		if e == nil {
			return nil
		}
		// The tombstone has the key "", which never reaches a shard.
		if e.hash == h && e.key == key {
			return e
		}
	}
}

// shard is one lock's worth of keys. Reads load tab and take no lock;
// writers hold mu. Padding keeps shards on separate cache lines.
type shard[T any] struct {
	mu    sync.Mutex
	tab   atomic.Pointer[table[T]] // replaced, never modified, when it grows
	live  int                      // live entries in tab; guarded by mu
	used  int                      // live entries and tombstones; guarded by mu
	limit int                      // most live entries; set once
	_     [64 - 40]byte
}

// store maps keys to per-key state with a memory bound: at most maxKeys keys,
// exactly, split between the shards in use (a full shard evicts the least
// recently used of a sample of its keys to make room), and entries idle for
// longer than idle are evicted as inserts come by. The global key "" lives
// outside the shards and is never evicted. With maxKeys below
// numShards×minShardKeys fewer shards are used, each holding at least
// minShardKeys keys.
//
// Time in the store is a tick count in nanoseconds from an origin its owner
// chooses (Unix nanoseconds, or nanoseconds since the owner was made); one
// store must stick to one origin.
//
// A lookup of an existing key takes no lock and writes nothing shared but,
// at most once per touch interval, the entry's last-use tick: requests under
// different keys, or the same key on several cores, do not contend.
//
// An idle entry is evicted only if rest says its state at that tick is what
// fresh state would be (a full bucket, empty windows, an expired hold), so
// idle eviction never changes an answer; only the memory bound may forget a
// key that still holds state.
type store[T any] struct {
	global  entry[T]
	tomb    *entry[T]                  // marks deleted slots
	init    func(v *T, now int64)      // nil: the zero value is fresh
	rest    func(v *T, now int64) bool // nil: every idle entry may go
	seed    maphash.Seed
	mask    uint64 // the shards in use are shards[:mask+1]
	idle    int64  // nanoseconds
	touch   int64  // nanoseconds: how stale seen may get before get updates it
	shards  [numShards]shard[T]
	evicted evictions
}

// newStore returns an empty store. init, if not nil, makes the fresh state
// of a key first used at tick now, and of the global key at tick 0; without
// it fresh state is T's zero value. rest, if not nil, reports whether a
// key's state at tick now is the same as fresh state; an idle key is evicted
// only then. It is called under the shard's lock.
func newStore[T any](maxKeys int, idle time.Duration, init func(v *T, now int64), rest func(v *T, now int64) bool) *store[T] {
	s := &store[T]{
		tomb:  &entry[T]{},
		init:  init,
		rest:  rest,
		seed:  maphash.MakeSeed(),
		idle:  int64(idle),
		touch: max(int64(idle)/16, int64(time.Millisecond)),
	}
	n := shardsFor(maxKeys)
	s.mask = uint64(n - 1)
	for i := range s.shards {
		s.shards[i].tab.Store(newTable[T](minSlots))
		if i < n {
			// The bound split as evenly as it goes: the limits add up
			// to maxKeys.
			s.shards[i].limit = maxKeys / n
			if i < maxKeys%n {
				s.shards[i].limit++
			}
		}
	}
	if init != nil {
		init(&s.global.val, 0)
	}
	return s
}

// shardsFor is how many shards a store of at most maxKeys keys uses: a power
// of two up to numShards, with at least minShardKeys keys per shard when
// maxKeys allows.
func shardsFor(maxKeys int) int {
	n := 1
	for 2*n <= numShards && maxKeys/(2*n) >= minShardKeys {
		n *= 2
	}
	return n
}

// get returns the state of key, creating it if needed, and marks it used at
// tick now.
func (s *store[T]) get(key string, now int64) *T {
	if key == "" {
		return &s.global.val
	}
	h, sh, e := s.lookup(key)
	if e == nil {
		e = s.insert(sh, key, h, now)
	}
	// Writing seen only when it is stale keeps the entry's cache line
	// clean for readers on other cores.
	if now-e.seen.Load() >= s.touch {
		e.seen.Store(now)
	}
	return &e.val
}

// peek returns the state of key, or nil if there is none. It neither
// creates the key nor marks it used.
func (s *store[T]) peek(key string) *T {
	if key == "" {
		return &s.global.val
	}
	if _, _, e := s.lookup(key); e != nil {
		return &e.val
	}
	return nil
}

// lookup returns key's hash, its shard and its entry, nil if it has none,
// without taking a lock. key is not the global key.
func (s *store[T]) lookup(key string) (uint64, *shard[T], *entry[T]) {
	h := maphash.String(s.seed, key)
	sh := &s.shards[h&s.mask]
	return h, sh, sh.tab.Load().find(key, h)
}

// insert adds key to sh unless another goroutine got there first.
func (s *store[T]) insert(sh *shard[T], key string, h uint64, now int64) *entry[T] {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if e := sh.tab.Load().find(key, h); e != nil {
		return e
	}
	s.evictLocked(sh, now)
	// A copy, so the store never pins a larger string the key was cut from.
	e := &entry[T]{key: strings.Clone(key), hash: h}
	e.seen.Store(now)
	if s.init != nil {
		s.init(&e.val, now)
	}
	s.addLocked(sh, e)
	return e
}

// addLocked puts e, whose key sh does not hold, into sh, growing (or, when
// tombstones piled up, rebuilding) the table first if needed.
func (s *store[T]) addLocked(sh *shard[T], e *entry[T]) {
	tab := sh.tab.Load()
	if 4*(sh.used+1) > 3*len(tab.slots) {
		tab = s.rebuildLocked(sh, sh.live+1)
	}
	i := tab.start(e.hash)
	for {
		old := tab.slots[i].Load()
		if old == nil || old == s.tomb {
			if old == nil {
				sh.used++
			}
			break
		}
		i = (i + 1) & tab.mask
	}
	tab.slots[i].Store(e)
	sh.live++
}

// rebuildLocked publishes a new table for sh holding its live entries, sized
// so that it is at most half full with want entries. Readers still probing
// the old table find what it held; a key added since is found again under
// the mutex.
func (s *store[T]) rebuildLocked(sh *shard[T], want int) *table[T] {
	size := max(minSlots, 1<<bits.Len(uint(2*want-1)))
	old, tab := sh.tab.Load(), newTable[T](size)
	for i := range old.slots {
		e := old.slots[i].Load()
		if e == nil || e == s.tomb {
			continue
		}
		j := tab.start(e.hash)
		for tab.slots[j].Load() != nil {
			j = (j + 1) & tab.mask
		}
		tab.slots[j].Store(e)
	}
	sh.used = sh.live
	sh.tab.Store(tab)
	return tab
}

// deleteLocked removes the entry in slot i of sh's table.
func (s *store[T]) deleteLocked(sh *shard[T], i uint64) {
	sh.tab.Load().slots[i].Store(s.tomb)
	sh.live--
}

// nextLive returns the first slot at or after i (wrapping) holding a live
// entry, and the entry. The table must hold one.
func (s *store[T]) nextLive(tab *table[T], i uint64) (uint64, *entry[T]) {
	for ; ; i = (i + 1) & tab.mask {
		if e := tab.slots[i].Load(); e != nil && e != s.tomb {
			return i, e
		}
	}
}

// evictLocked drops idle entries from a small sample of sh and, if sh is
// still full, the least recently used entry of a larger sample. A sample is
// the live entries following a random slot; where a key sits in the table
// has nothing to do with when it was used, so the sample is a random one.
func (s *store[T]) evictLocked(sh *shard[T], now int64) {
	tab := sh.tab.Load()
	i := rand.Uint64() & tab.mask
	for n := 0; n < idleSample && sh.live > 0; n++ {
		var e *entry[T]
		i, e = s.nextLive(tab, i)
		if now-e.seen.Load() >= s.idle && (s.rest == nil || s.rest(&e.val, now)) {
			s.deleteLocked(sh, i)
			s.evicted.idle.Add(1)
		}
		i = (i + 1) & tab.mask
	}
	if sh.live < sh.limit {
		return
	}
	oldestSlot, oldest := uint64(0), int64(0)
	n := 0
	for ; n < evictSample && n < sh.live; n++ {
		var e *entry[T]
		i, e = s.nextLive(tab, i)
		if seen := e.seen.Load(); n == 0 || seen < oldest {
			oldestSlot, oldest = i, seen
		}
		i = (i + 1) & tab.mask
	}
	s.deleteLocked(sh, oldestSlot)
	s.evicted.capacity.Add(1)
	if logger.V(2) {
		logger.Infof("ratelimit: store full, evicted the least recently used of %d sampled keys", n)
	}
}

// len returns the number of keys held, not counting the global key.
func (s *store[T]) len() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n += sh.live
		sh.mu.Unlock()
	}
	return n
}
