package memory

import (
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
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
		reflect.TypeFor[map[uint64]int32]().Key(),
		reflect.TypeFor[map[uint64]int32]().Elem(),
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
