package memory

import (
	"sync"
	"unsafe"

	"github.com/ginlimit/ginlimit/backend"
)

// expiredScan is how many entries, from the least recently used, a full shard
// looks at for an expired one before it evicts a live one.
const expiredScan = 8

// shard is one lock's worth of the store, padded to whole cache-line pairs so
// that neighbouring shards never share a line.
type shard struct {
	shardState
	_ [128 - unsafe.Sizeof(shardState{})%128]byte
}

// shardState is a map from key hash to entry, and the same entries in a doubly
// linked list from most to least recently used.
type shardState struct {
	mu        sync.Mutex
	entries   map[uint64]*entry // by keyHash.lo
	newest    *entry            // most recently used
	oldest    *entry            // least recently used
	capacity  int
	evictions uint64

	// ticks counts moves to the front of the list. An entry moved fewer than
	// capacity/4 ticks ago is still in the newest quarter of the list and is
	// not moved again: most decisions then write no other entry's memory,
	// and no entry used within the last capacity/4 moves is ever evicted.
	ticks uint64
}

// keyHash identifies a key by two independent seeded 64-bit hashes. The store
// keeps no key strings: a lookup compares two words instead of reading a
// string elsewhere in memory, and a key costs the same however long it is.
// With seeds chosen at random per store, two keys share both hashes with
// probability 2^-128, and a client cannot choose keys that collide.
type keyHash struct{ lo, hi uint64 }

// entry is one key's counters, one per limit of the policy it was built for.
type entry struct {
	key          keyHash
	tick         uint64 // shard.ticks when the entry was last moved to the front
	newer, older *entry

	// expiry is the time, in Unix nanoseconds, from which the counters say
	// nothing a fresh entry would not: once now >= expiry the entry may be
	// reset or removed without changing any decision.
	expiry int64

	strategy backend.Strategy
	counters []counter

	// inline holds the counters of small policies, saving an allocation and
	// a cache miss per decision.
	inline [inlineCounters]counter
}

// inlineCounters is how many limits an entry holds without a separate
// allocation. Most policies have one or two.
const inlineCounters = 2

func (sh *shard) init(capacity int) {
	sh.capacity = capacity
	sh.entries = make(map[uint64]*entry)
}

// entry returns the entry for key, ready for a policy of strategy with n
// limits, and marks it recently used. It adds an entry for a new key, evicting
// one if the shard is full. The caller holds sh.mu.
func (sh *shard) entry(key keyHash, strategy backend.Strategy, n int, now int64) *entry {
	if e, ok := sh.entries[key.lo]; ok {
		sh.touch(e)
		if e.key != key || now >= e.expiry || e.strategy != strategy || len(e.counters) != n {
			// e.key != key: another key shares the low hash (2^-64 per
			// pair); the newcomer takes the entry over.
			e.key = key
			e.reset(strategy, n)
		}
		return e
	}

	e := sh.makeRoom(now)
	if e == nil {
		e = new(entry)
	}
	e.key = key
	e.reset(strategy, n)
	sh.entries[key.lo] = e
	sh.pushNewest(e)
	return e
}

// touch marks e recently used, moving it to the front of the list unless it
// is already in the newest quarter.
func (sh *shard) touch(e *entry) {
	if sh.ticks-e.tick < uint64(sh.capacity/4) {
		return
	}
	sh.moveToNewest(e)
}

// makeRoom removes an entry if the shard is full and returns it for reuse, or
// returns nil. It prefers an expired entry among the expiredScan least recently
// used, and otherwise evicts the least recently used one.
func (sh *shard) makeRoom(now int64) *entry {
	if len(sh.entries) < sh.capacity {
		return nil
	}
	victim := sh.oldest
	for e, i := sh.oldest, 0; e != nil && i < expiredScan; e, i = e.newer, i+1 {
		if now >= e.expiry {
			victim = e
			break
		}
	}
	if now < victim.expiry {
		sh.evictions++
	}
	sh.remove(victim)
	return victim
}

// removeExpired removes every expired entry. The caller holds sh.mu.
func (sh *shard) removeExpired(now int64) {
	for e := sh.oldest; e != nil; {
		newer := e.newer
		if now >= e.expiry {
			sh.remove(e)
		}
		e = newer
	}
}

func (sh *shard) remove(e *entry) {
	delete(sh.entries, e.key.lo)
	sh.unlink(e)
	e.key = keyHash{}
}

func (sh *shard) pushNewest(e *entry) {
	sh.ticks++
	e.tick = sh.ticks
	e.newer, e.older = nil, sh.newest
	if sh.newest != nil {
		sh.newest.newer = e
	} else {
		sh.oldest = e
	}
	sh.newest = e
}

func (sh *shard) moveToNewest(e *entry) {
	if sh.newest == e {
		return
	}
	sh.unlink(e)
	sh.pushNewest(e)
}

func (sh *shard) unlink(e *entry) {
	if e.newer != nil {
		e.newer.older = e.older
	} else {
		sh.newest = e.older
	}
	if e.older != nil {
		e.older.newer = e.newer
	} else {
		sh.oldest = e.newer
	}
	e.newer, e.older = nil, nil
}

// reset makes e a fresh entry for a policy of strategy with n limits, reusing
// its counters' memory when it is large enough.
func (e *entry) reset(strategy backend.Strategy, n int) {
	e.strategy = strategy
	e.expiry = 0
	switch {
	case n <= inlineCounters:
		e.counters = e.inline[:n]
	case cap(e.counters) >= n:
		e.counters = e.counters[:n]
	default:
		e.counters = make([]counter, n)
		return
	}
	clear(e.counters)
}
