package memory

import (
	"sync"
	"unsafe"

	"github.com/ginlimit/ginlimit/backend"
)

// expiredScan is how many entries, from the least recently used, a full shard
// looks at for an expired one before it evicts a live one.
const expiredScan = 8

// inlineCounters is how many limits an entry holds itself. Most policies have
// one or two; the counters of larger ones live in the shard's wide arena.
const (
	inlineCounters = 2
	wideCounters   = backend.MaxLimits
)

// none is the null slot index.
const none = -1

// shard is one lock's worth of the store, padded to whole cache-line pairs so
// that neighbouring shards never share a line.
type shard struct {
	shardState
	_ [128 - unsafe.Sizeof(shardState{})%128]byte
}

// shardState holds a shard's entries in an arena, a slice of values without
// pointers, found by key hash through an index and linked from most to least
// recently used by slot numbers. Nothing in it holds a pointer, so the garbage
// collector never scans it, however many keys the store holds.
type shardState struct {
	mu       sync.Mutex
	index    map[uint64]int32 // keyHash.lo -> slot in entries
	entries  []entry          // grows to capacity; freed slots are reused
	free     int32            // first free slot in entries, linked by older
	wide     [][wideCounters]counter
	wideFree []int32 // free slots in wide
	newest   int32   // most recently used slot
	oldest   int32   // least recently used slot
	capacity int

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

// entry is one key's counters for one policy.
type entry struct {
	key          keyHash
	tick         uint64 // shard.ticks when the entry was last moved to the front
	expiry       int64  // from then on the counters say nothing a fresh entry would not
	newer, older int32  // slots in the LRU list, or none
	wide         int32  // slot in shard.wide holding the counters, or none
	strategy     backend.Strategy
	limits       uint8 // how many limits the counters are for
	inline       [inlineCounters]counter
}

func (sh *shard) init(capacity int) {
	sh.capacity = capacity
	sh.index = make(map[uint64]int32)
	sh.free, sh.newest, sh.oldest = none, none, none
}

// entry returns the slot of the entry for key, ready for a policy of strategy
// with n limits, and marks it recently used. It adds an entry for a new key,
// evicting one if the shard is full. The caller holds sh.mu.
func (sh *shard) entry(key keyHash, strategy backend.Strategy, n int, now int64) int32 {
	if i, ok := sh.index[key.lo]; ok {
		sh.touch(i)
		e := &sh.entries[i]
		if e.key != key || now >= e.expiry || e.strategy != strategy || int(e.limits) != n {
			// e.key != key: another key shares the low hash (2^-64 per
			// pair); the newcomer takes the entry over. The key hash
			// includes the policy, so a strategy or limit count that
			// differs means a full collision (2^-128); resetting then keeps
			// the counters sized for the policy decide is given.
			e.key = key
			sh.reset(i, strategy, n)
		}
		return i
	}

	i := sh.makeRoom(now)
	sh.entries[i].key = key
	sh.reset(i, strategy, n)
	sh.index[key.lo] = i
	sh.pushNewest(i)
	return i
}

// counters returns the counters of the entry in slot i.
func (sh *shard) counters(i int32) []counter {
	e := &sh.entries[i]
	if e.wide != none {
		return sh.wide[e.wide][:e.limits]
	}
	return e.inline[:e.limits]
}

// touch marks slot i recently used, moving it to the front of the list unless
// it is already in the newest quarter.
func (sh *shard) touch(i int32) {
	if sh.ticks-sh.entries[i].tick < uint64(sh.capacity/4) || sh.newest == i {
		return
	}
	sh.unlink(i)
	sh.pushNewest(i)
}

// makeRoom returns a free slot, removing an entry if the shard is full. It
// prefers an expired entry among the expiredScan least recently used, and
// otherwise evicts the least recently used one.
func (sh *shard) makeRoom(now int64) int32 {
	if len(sh.index) >= sh.capacity {
		victim := sh.oldest
		for i, n := sh.oldest, 0; i != none && n < expiredScan; i, n = sh.entries[i].newer, n+1 {
			if now >= sh.entries[i].expiry {
				victim = i
				break
			}
		}
		if now < sh.entries[victim].expiry {
			sh.evictions++
		}
		sh.remove(victim)
	}
	if i := sh.free; i != none {
		sh.free = sh.entries[i].older
		return i
	}
	sh.entries = append(sh.entries, entry{newer: none, older: none, wide: none})
	return int32(len(sh.entries) - 1)
}

// removeExpired removes every expired entry. The caller holds sh.mu.
func (sh *shard) removeExpired(now int64) {
	for i := sh.oldest; i != none; {
		newer := sh.entries[i].newer
		if now >= sh.entries[i].expiry {
			sh.remove(i)
		}
		i = newer
	}
}

// remove drops the entry in slot i and puts the slot on the free list.
func (sh *shard) remove(i int32) {
	e := &sh.entries[i]
	delete(sh.index, e.key.lo)
	sh.unlink(i)
	sh.releaseWide(e)
	*e = entry{older: sh.free, newer: none, wide: none}
	sh.free = i
}

func (sh *shard) pushNewest(i int32) {
	sh.ticks++
	e := &sh.entries[i]
	e.tick = sh.ticks
	e.newer, e.older = none, sh.newest
	if sh.newest != none {
		sh.entries[sh.newest].newer = i
	} else {
		sh.oldest = i
	}
	sh.newest = i
}

func (sh *shard) unlink(i int32) {
	e := &sh.entries[i]
	if e.newer != none {
		sh.entries[e.newer].older = e.older
	} else {
		sh.newest = e.older
	}
	if e.older != none {
		sh.entries[e.older].newer = e.newer
	} else {
		sh.oldest = e.newer
	}
	e.newer, e.older = none, none
}

// reset makes slot i a fresh entry for a policy of strategy with n limits.
func (sh *shard) reset(i int32, strategy backend.Strategy, n int) {
	e := &sh.entries[i]
	e.strategy, e.limits, e.expiry = strategy, uint8(n), 0
	e.inline = [inlineCounters]counter{}
	switch {
	case n <= inlineCounters:
		sh.releaseWide(e)
	case e.wide != none:
		sh.wide[e.wide] = [wideCounters]counter{}
	case len(sh.wideFree) > 0:
		e.wide = sh.wideFree[len(sh.wideFree)-1]
		sh.wideFree = sh.wideFree[:len(sh.wideFree)-1]
		sh.wide[e.wide] = [wideCounters]counter{}
	default:
		sh.wide = append(sh.wide, [wideCounters]counter{})
		e.wide = int32(len(sh.wide) - 1)
	}
}

func (sh *shard) releaseWide(e *entry) {
	if e.wide != none {
		sh.wideFree = append(sh.wideFree, e.wide)
		e.wide = none
	}
}
