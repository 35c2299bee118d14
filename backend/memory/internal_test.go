package memory

import (
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
	"unsafe"
)

// TestSlidingWaitIsLeast checks, over random denied windows, that the wait is
// the least one after which the request is admitted, whether the closed form
// or bisection found it.
func TestSlidingWaitIsLeast(t *testing.T) {
	periods := []time.Duration{time.Second, time.Minute, time.Hour, 24 * time.Hour, 3600 * 24 * 360 * 10 * time.Second}
	rng := rand.New(rand.NewPCG(1, 2))
	var checked, closedForm int
	for range 200_000 {
		period := int64(periods[rng.IntN(len(periods))])
		limit := 1 + rng.Int64N(min(1_000_000_000, period))
		if rng.IntN(2) == 0 {
			limit = 1 + rng.Int64N(20)
		}
		w := slidingWindow{
			prev:    rng.Int64N(limit + 1),
			curr:    rng.Int64N(limit + 1),
			elapsed: rng.Int64N(period),
			period:  period,
			limit:   limit,
			cost:    1 + rng.Int64N(limit),
		}
		if w.admitsAfter(0) {
			continue
		}
		checked++
		d := w.wait()
		if !w.admitsAfter(d) || !(d == 1 || !w.admitsAfter(d-1)) {
			t.Fatalf("%+v: wait %d is not the least", w, d)
		}
		if w.closedFormWait() == d {
			closedForm++
		}
	}
	t.Logf("%d denied windows, closed form exact for %d", checked, closedForm)
}

// TestStoreHoldsNoPointers keeps the store invisible to the garbage collector:
// an entry, a counter or a wide arena slot that held a pointer would make
// every collection scan every key.
func TestStoreHoldsNoPointers(t *testing.T) {
	for _, typ := range []reflect.Type{
		reflect.TypeFor[entry](),
		reflect.TypeFor[counter](),
		reflect.TypeFor[[wideCounters]counter](),
	} {
		if path := pointerIn(typ); path != "" {
			t.Errorf("%v holds a pointer at %s", typ, path)
		}
	}
}

// pointerIn returns where typ holds a pointer, or "".
func pointerIn(typ reflect.Type) string {
	switch typ.Kind() {
	case reflect.Struct:
		for i := range typ.NumField() {
			if p := pointerIn(typ.Field(i).Type); p != "" {
				return typ.Field(i).Name + "." + p
			}
		}
		return ""
	case reflect.Array:
		return pointerIn(typ.Elem())
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return ""
	}
	return typ.Kind().String()
}

// TestEntryFillsOneCacheLine keeps a held key's decision to one cache line of
// the table: an entry of 64 bytes at a 64-byte aligned slot never straddles
// two. A table is a multiple of 64 bytes, and so is the allocator's size class
// for it, so that objects of that class, and every slot, are 64-byte aligned.
// This is the runtime's doing, not the language's: the test guards it.
func TestEntryFillsOneCacheLine(t *testing.T) {
	if got := unsafe.Sizeof(entry{}); got != 64 {
		t.Errorf("entry is %d bytes, want 64", got)
	}
	for _, capacity := range []int{1, 2, 3, 5, 7, 390, 10_000} {
		var sh shard
		sh.init(capacity)
		for n := range capacity {
			sh.entry(keyHash{lo: uint64(n) * 0x9e3779b97f4a7c15, hi: uint32(n)}, 0, 1, 0)
			if addr := uintptr(unsafe.Pointer(&sh.entries[0])); addr%64 != 0 {
				t.Fatalf("capacity %d: with %d entries in %d slots, the table starts at %#x, not on a 64-byte boundary",
					capacity, n+1, len(sh.entries), addr)
			}
		}
	}
}

// TestShardHotFieldsShareALine keeps what a decision for a held key reads of
// its shard in the shard's first cache line.
func TestShardHotFieldsShareALine(t *testing.T) {
	var sh shard
	tests := []struct {
		name string
		end  uintptr // offset just past the field
	}{
		{name: "mu", end: unsafe.Offsetof(sh.mu) + unsafe.Sizeof(sh.mu)},
		{name: "entries", end: unsafe.Offsetof(sh.entries) + unsafe.Sizeof(sh.entries)},
		{name: "ticks", end: unsafe.Offsetof(sh.ticks) + unsafe.Sizeof(sh.ticks)},
		{name: "fresh", end: unsafe.Offsetof(sh.fresh) + unsafe.Sizeof(sh.fresh)},
		{name: "newest", end: unsafe.Offsetof(sh.newest) + unsafe.Sizeof(sh.newest)},
	}
	for _, tt := range tests {
		if tt.end > 64 {
			t.Errorf("shard.%s ends at byte %d, past the first cache line", tt.name, tt.end)
		}
	}
	if size := unsafe.Sizeof(sh); size%128 != 0 {
		t.Errorf("shard is %d bytes, not a multiple of 128", size)
	}
}
