package memory

// A shard's entries are themselves its hash table: open addressing with
// linear probing, where a key's home slot is fixed by its hash. A decision for
// a held key then reads one cache line, its entry, usually at its home: there
// is no index to read first, and no pointer to chase. Removal shifts the
// later entries of a probe run back rather than leaving tombstones, so runs
// stay as short as the load allows however much the keys churn; an entry that
// moves takes its place in the LRU list with it.
//
// The table starts at minTableLen slots and doubles while it is at most half
// full, up to twice the shard's capacity, so that a lookup reads about 1.5
// entries on average (Knuth, TAOCP vol. 3, 6.4), most of them at their home.
// The length need not be a power of two: a home is the high half of the
// product of the key's tag and the length.

// minTableLen is the length of a new shard's table.
const minTableLen = 16

// home returns the home slot of key in a table of n slots. It draws on the
// high 32 bits of key.lo, independent of the bits that chose the shard.
func home(key keyHash, n int) int32 {
	return int32(uint64(uint32(key.lo>>32)) * uint64(n) >> 32)
}

// next returns the slot after i in a table of n slots.
func next(i int32, n int) int32 {
	if i++; int(i) == n {
		return 0
	}
	return i
}

// distance returns how many slots from i on j is in a table of n slots.
func distance(i, j int32, n int) int32 {
	if j >= i {
		return j - i
	}
	return j + int32(n) - i
}

// lookup returns the slot of key's entry, or none.
func (sh *shard) lookup(key keyHash) int32 {
	n := len(sh.entries)
	for i := home(key, n); ; i = next(i, n) {
		e := &sh.entries[i]
		if e.limits == 0 {
			return none
		}
		if e.hasKey(key) {
			return i
		}
	}
}

// insert returns an empty slot for key, which the shard must not hold, and
// takes it: the caller must reset the entry there. The shard must have room.
func (sh *shard) insert(key keyHash) int32 {
	if 2*(sh.count+1) > len(sh.entries) && len(sh.entries) < sh.maxLen {
		sh.grow()
	}
	i := sh.vacancy(key)
	sh.entries[i].keyLo, sh.entries[i].keyHi = key.lo, key.hi
	sh.count++
	return i
}

// vacancy returns the first empty slot from key's home.
func (sh *shard) vacancy(key keyHash) int32 {
	n := len(sh.entries)
	i := home(key, n)
	for sh.entries[i].limits != 0 {
		i = next(i, n)
	}
	return i
}

// grow doubles the table, up to maxLen, and relinks the list in its order.
func (sh *shard) grow() {
	old := sh.entries
	sh.entries = make([]entry, min(2*len(old), sh.maxLen))
	prev := int32(none)
	for i := sh.oldest; i != none; i = old[i].newer {
		j := sh.vacancy(old[i].key())
		sh.entries[j] = old[i]
		sh.entries[j].older, sh.entries[j].newer = prev, none
		if prev != none {
			sh.entries[prev].newer = j
		} else {
			sh.oldest = j
		}
		prev = j
	}
	sh.newest = prev
}

// remove drops the entry in slot i. Entries later in its probe run may move,
// so slot numbers the caller holds, other than i, are no longer valid.
func (sh *shard) remove(i int32) {
	sh.unlink(i)
	sh.releaseWide(sh.entries[i].wideSlot())
	sh.count--

	// Fill the hole with each later entry of the run that may move to it: one
	// whose home is not cyclically in (hole, its slot].
	n := len(sh.entries)
	hole := i
	for j := next(i, n); sh.entries[j].limits != 0; j = next(j, n) {
		if distance(home(sh.entries[j].key(), n), j, n) >= distance(hole, j, n) {
			sh.move(j, hole)
			hole = j
		}
	}
	sh.entries[hole] = entry{}
}

// move moves the entry in slot from to the empty slot to, keeping its place
// in the list.
func (sh *shard) move(from, to int32) {
	sh.entries[to] = sh.entries[from]
	e := &sh.entries[to]
	if e.newer != none {
		sh.entries[e.newer].older = to
	} else {
		sh.newest = to
	}
	if e.older != none {
		sh.entries[e.older].newer = to
	} else {
		sh.oldest = to
	}
}
