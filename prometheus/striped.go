package ginlimitprom

import (
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"
)

// Observe runs on every request, on every core at once. A counter that all
// cores add to moves its cache line from core to core on nearly every
// request: client_golang's counters and histograms do, and cost a busy
// server several times what the rest of the decision does. So every count
// here is split over stripes, summed when scraped, and each processor (P)
// adds to a stripe of its own, found through a sync.Pool, which keeps what
// is put back for the P that put it. A stripe chosen at random would not
// do: every stripe would still be written by every core in turn, and its
// lines would move as often.

// cacheLine is the size of a cache line, and cacheLineWords the number of
// counters in one.
const (
	cacheLine      = 64
	cacheLineWords = cacheLine / 8
)

// maxStripes bounds the stripes: a pair's counters take 320 bytes a stripe.
const maxStripes = 64

// stripeCount returns how many stripes a block of counters has: one for
// each processor the program may run on, in a power of two.
func stripeCount() int {
	n := min(max(runtime.GOMAXPROCS(0), runtime.NumCPU()), maxStripes)
	return 1 << bits.Len(uint(n-1))
}

// stripes hands out stripe numbers, each P keeping the one it was given.
// Two Ps may come to share one (when the pool, emptied by two collections
// in a row, hands them out again, round robin): they then add to the same
// counters, which is slower, and as correct.
type stripes struct {
	tokens []stripe // preallocated, so that handing one out allocates nothing
	next   atomic.Uint32
	pool   sync.Pool
}

// stripe is the number of a stripe, handed out and put back by pointer.
type stripe struct{ i int }

func newStripes(n int) *stripes {
	s := &stripes{tokens: make([]stripe, n)}
	for i := range s.tokens {
		s.tokens[i].i = i
	}
	s.pool.New = func() any {
		return &s.tokens[int(s.next.Add(1))%len(s.tokens)]
	}
	return s
}

// get returns the calling P's stripe; give it back with put.
func (s *stripes) get() *stripe  { return s.pool.Get().(*stripe) }
func (s *stripes) put(t *stripe) { s.pool.Put(t) }

// striped is a block of counters split over stripes: each stripe is a row
// of the block's counters, padded to whole cache lines.
type striped struct {
	width int // counters in a row, padding included
	rows  []atomic.Uint64
}

func newStriped(stripes, counters int) striped {
	width := (counters + cacheLineWords - 1) / cacheLineWords * cacheLineWords
	// One line more, to start the rows at a line's start: the heap never
	// moves an object.
	rows := make([]atomic.Uint64, stripes*width+cacheLineWords)
	skip := (cacheLine - int(uintptr(unsafe.Pointer(&rows[0]))%cacheLine)) % cacheLine / 8
	return striped{width: width, rows: rows[skip : skip+stripes*width]}
}

// row returns the counters of stripe i.
func (s *striped) row(i int) []atomic.Uint64 {
	return s.rows[i*s.width : (i+1)*s.width]
}

// sum returns the total of counter j over the stripes.
func (s *striped) sum(j int) uint64 {
	var n uint64
	for i := j; i < len(s.rows); i += s.width {
		n += s.rows[i].Load()
	}
	return n
}
