package memory

import (
	"math/rand/v2"
	"testing"
)

// TestTableChurn adds and removes keys at random, against a map, and checks
// after each step that every held key is found, that absent keys are not,
// and that the list still links every entry. Tags are drawn from a few
// values, some near the top so that their homes are the last slots, so that
// runs are long, share homes and wrap around the end of the table: where
// shifting entries back on removal can go wrong.
func TestTableChurn(t *testing.T) {
	tests := []struct {
		name     string
		capacity int
		tags     []uint32
	}{
		{name: "One", capacity: 1, tags: []uint32{0, 1 << 31, 1<<32 - 1}},
		{name: "CrowdedTags", capacity: 40, tags: []uint32{0, 5, 1 << 30, 1<<32 - 3<<26, 1<<32 - 1<<26, 1<<32 - 1}},
		{name: "SpreadTags", capacity: 300, tags: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(3, 4))
			// As many distinct keys as the shard holds, so that nothing is
			// evicted and the table fills up to its greatest load.
			keys := make([]keyHash, tt.capacity)
			for i := range keys {
				tag := rng.Uint32()
				if tt.tags != nil {
					tag = tt.tags[rng.IntN(len(tt.tags))]
				}
				keys[i] = keyHash{lo: uint64(tag)<<32 | uint64(i), hi: rng.Uint32()}
			}
			var sh shard
			sh.init(tt.capacity)
			held := make(map[keyHash]bool)

			for step := range 20_000 {
				key := keys[rng.IntN(len(keys))]
				if held[key] && rng.IntN(2) == 0 {
					sh.remove(sh.lookup(key))
					delete(held, key)
				} else {
					sh.entry(key, 0, 1+rng.IntN(wideCounters), 0)
					held[key] = true
				}
				checkShard(t, &sh, keys, held)
				if t.Failed() {
					t.Fatalf("after step %d", step)
				}
			}

			// Sweep a random half, which moves entries as it goes.
			for _, key := range keys {
				if !held[key] {
					continue
				}
				if rng.IntN(2) == 0 {
					sh.entries[sh.lookup(key)].expiry = 1 << 62
				} else {
					delete(held, key) // its expiry is 0
				}
			}
			sh.removeExpired(1)
			checkShard(t, &sh, keys, held)
		})
	}
}

// checkShard checks that sh holds exactly the held keys, each found by lookup,
// all linked in its list, and its table at most half full.
func checkShard(t *testing.T, sh *shard, keys []keyHash, held map[keyHash]bool) {
	t.Helper()
	if sh.count != len(held) {
		t.Errorf("count %d, want %d", sh.count, len(held))
	}
	if 2*sh.count > len(sh.entries) {
		t.Errorf("%d keys in %d slots, more than half full", sh.count, len(sh.entries))
	}
	for _, key := range keys {
		i := sh.lookup(key)
		if (i != none) != held[key] {
			t.Errorf("lookup(%v) = %d, held %v", key, i, held[key])
		}
	}
	linked, newer := 0, int32(none)
	for i := sh.newest; i != none && linked <= sh.count; i = sh.entries[i].older {
		if e := &sh.entries[i]; e.limits == 0 || e.newer != newer {
			t.Errorf("slot %d in the list: %d limits, newer %d, want newer %d", i, e.limits, e.newer, newer)
		}
		linked, newer = linked+1, i
	}
	if linked != sh.count || sh.oldest != newer {
		t.Errorf("the list links %d entries down to %d, want %d down to the oldest, %d", linked, newer, sh.count, sh.oldest)
	}
}

// TestTableGrowsToTwiceCapacity checks the table's length when full: twice
// the capacity, or minTableLen if that is less and more than the capacity
// needs.
func TestTableGrowsToTwiceCapacity(t *testing.T) {
	tests := []struct {
		give int
		want int
	}{
		{give: 1, want: 2},
		{give: 8, want: 16},
		{give: 9, want: 18},
		{give: 390, want: 780},
		{give: 512, want: 1024},
	}
	for _, tt := range tests {
		var sh shard
		sh.init(tt.give)
		for i := range tt.give {
			sh.entry(keyHash{lo: uint64(i) << 32}, 0, 1, 0)
		}
		if len(sh.entries) != tt.want {
			t.Errorf("capacity %d: %d slots when full, want %d", tt.give, len(sh.entries), tt.want)
		}
	}
}
