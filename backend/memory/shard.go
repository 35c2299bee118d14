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

// shardState holds a shard's entries in a hash table of values without
// pointers (see table.go), linked from most to least recently used by slot
// numbers. Nothing in it holds a pointer, so the garbage collector never
// scans it, however many keys the store holds.
//
// The fields a decision for a held key reads come first, so that they share
// the shard's first cache line.
type shardState struct {
	mu      sync.Mutex
	entries []entry // the table: an entry with no limits is an empty slot

	// ticks counts moves to the front of the list, wrapping at 2^16. An
	// entry moved fewer than fresh ticks ago is still in the newest quarter
	// of the list and is not moved again: most decisions then write no other
	// entry's memory, and no entry used within the last fresh moves is ever
	// evicted. fresh is capacity/4, at most maxFresh.
	ticks  uint16
	fresh  uint16
	newest int32 // most recently used slot

	oldest   int32 // least recently used slot
	count    int   // entries held
	maxLen   int   // the length at which the table stops growing
	wide     [][wideCounters]counter
	wideFree []int32 // free slots in wide
	capacity int
	blocks   map[keyHash]int64 // blocked keys, until when (control.go)

	evictions uint64
}

// maxFresh caps shard.fresh so that the 16-bit ticks rarely mislead: an entry
// last moved more than 2^16 moves ago is taken for a fresh one, and left where
// it is, only if the ticks wrapped to within fresh of it, with odds
// fresh/2^16 <= 1/16. It is then moved at a later use.
const maxFresh = 1 << 12

// keyHash identifies a key by 96 bits of two independent seeded hashes. The
// store keeps no key strings: a lookup compares two words instead of reading
// a string elsewhere in memory, and a key costs the same however long it is.
// With seeds chosen at random per store, two keys share both hashes with
// probability 2^-96, and a client cannot choose keys that collide.
type keyHash struct {
	lo uint64
	hi uint32
}

// entry is one key's counters for one policy. It is 64 bytes, one cache line,
// so that a decision for a held key reads one line of the entries; the key's
// hash is therefore spelled out rather than held as a keyHash, which padding
// would make 16 bytes.
type entry struct {
	keyLo    uint64
	keyHi    uint32
	tick     uint16 // shard.ticks when the entry was last moved to the front
	strategy backend.Strategy
	limits   uint8 // how many limits the counters are for

	expiry       int64 // from then on the counters say nothing a fresh entry would not
	newer, older int32 // slots in the LRU list, or none

	// inline holds the counters of a policy of up to inlineCounters limits.
	// For a larger one, inline[0].at is the slot in shard.wide that holds
	// them (see wideSlot).
	inline [inlineCounters]counter
}

// key returns the hash of the entry's key.
func (e *entry) key() keyHash { return keyHash{lo: e.keyLo, hi: e.keyHi} }

// hasKey reports whether the entry is key's.
func (e *entry) hasKey(key keyHash) bool { return e.keyLo == key.lo && e.keyHi == key.hi }

// wideSlot returns the slot in shard.wide holding the entry's counters, or
// none if they are inline.
func (e *entry) wideSlot() int32 {
	if int(e.limits) <= inlineCounters {
		return none
	}
	return int32(e.inline[0].at)
}

func (sh *shard) init(capacity int) {
	sh.capacity = capacity
	sh.fresh = uint16(min(capacity/4, maxFresh))
	sh.maxLen = 2 * capacity
	sh.entries = make([]entry, min(minTableLen, sh.maxLen))
	sh.newest, sh.oldest = none, none
}

// entry returns the slot of the entry for key, ready for a policy of strategy
// with n limits, and marks it recently used. It adds an entry for a new key,
// evicting one if the shard is full. The caller holds sh.mu.
func (sh *shard) entry(key keyHash, strategy backend.Strategy, n int, now int64) int32 {
	if i := sh.lookup(key); i != none {
		sh.touch(i)
		e := &sh.entries[i]
		if now >= e.expiry || e.strategy != strategy || int(e.limits) != n {
			// The key hash includes the policy, so a strategy or limit
			// count that differs means two (key, policy) pairs share it
			// (2^-96); resetting then keeps the counters sized for the
			// policy decide is given.
			sh.reset(i, strategy, n)
		}
		return i
	}

	sh.makeRoom(now)
	i := sh.insert(key)
	sh.reset(i, strategy, n)
	sh.pushNewest(i)
	return i
}

// counters returns the counters of the entry in slot i.
func (sh *shard) counters(i int32) []counter {
	e := &sh.entries[i]
	if w := e.wideSlot(); w != none {
		return sh.wide[w][:e.limits]
	}
	return e.inline[:e.limits]
}

// touch marks slot i recently used, moving it to the front of the list unless
// it is already in the newest quarter.
func (sh *shard) touch(i int32) {
	if sh.ticks-sh.entries[i].tick < sh.fresh || sh.newest == i {
		return
	}
	sh.unlink(i)
	sh.pushNewest(i)
}

// makeRoom removes an entry if the shard is full. It prefers an expired entry
// among the expiredScan least recently used, and otherwise evicts the least
// recently used one.
func (sh *shard) makeRoom(now int64) {
	if sh.count < sh.capacity {
		return
	}
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

// removeExpired removes every expired entry. The caller holds sh.mu.
//
// It scans the table rather than the list, because removing an entry moves
// others. A removal only moves entries into the emptied slot or later ones in
// their run, so the scan looks at the same slot again and misses none; an
// entry it has kept may be looked at twice.
func (sh *shard) removeExpired(now int64) {
	for i := 0; i < len(sh.entries); {
		if e := &sh.entries[i]; e.limits != 0 && now >= e.expiry {
			sh.remove(int32(i))
			continue
		}
		i++
	}
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
	w := e.wideSlot()
	e.strategy, e.limits, e.expiry = strategy, uint8(n), 0
	e.inline = [inlineCounters]counter{}
	if n <= inlineCounters {
		sh.releaseWide(w)
		return
	}
	switch {
	case w != none:
	case len(sh.wideFree) > 0:
		w = sh.wideFree[len(sh.wideFree)-1]
		sh.wideFree = sh.wideFree[:len(sh.wideFree)-1]
	default:
		sh.wide = append(sh.wide, [wideCounters]counter{})
		w = int32(len(sh.wide) - 1)
	}
	sh.wide[w] = [wideCounters]counter{}
	e.inline[0].at = int64(w)
}

// releaseWide puts slot w of the wide arena, if not none, on its free list.
func (sh *shard) releaseWide(w int32) {
	if w != none {
		sh.wideFree = append(sh.wideFree, w)
	}
}
