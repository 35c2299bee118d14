package bench

// The memory-admit scenario measures each library's own decision call on its
// in-memory store, without HTTP: numKeys distinct clients, none of which ever
// reaches its limit (roomyQuota). The memory-hot scenario does the same with
// one single client, hotKey, from every goroutine. What each library does
// per decision, as read from its source:
//
// ginlimit (sliding, fixed, token), backend/memory: a table of at most
// 100,000 keys (the least recently used evicted first) in up to 256 shards,
// each under its own mutex; a sweeper goroutine, stopped by Close, drops
// expired keys. A denial consumes nothing. Sliding windows are aligned to the
// epoch, a fixed window starts at a key's first admitted request, and token is
// GCRA.
//
// ulule (fixed), drivers/store/memory: a sync.Map of counters, each under an
// RWMutex of its own, and a window that starts at a key's first request.
// Every request increments, so denials count against the limit. It builds a
// new key string, "limiter:"+key, for each decision. It has no size cap: keys
// leave only when its sweeper finds them expired. The sweeper can only be
// stopped by the garbage collector (a finalizer), so it is turned off here
// (CleanUpInterval 0); it runs every 30s, longer than any run here lasts.
//
// jgl (fixed), JGLTechnologies/gin-rate-limit InMemoryStore: a sync.Map of
// counts, read and later written back with no lock, so concurrent requests of
// one key can all pass on the same count; each admission stores a new boxed
// value (one allocation). The count refills once the period, in whole
// seconds, has passed since the key's last admitted request, so a client that
// keeps coming back is never refilled. Denials are not counted. Its sweeper
// goroutine never stops, so one store (jglMemory) serves the whole process.
//
// httprate (sliding), go-chi/httprate's local counter: counts of the current
// and previous window in two maps of hashed keys, windows aligned to the
// limiter's creation, and one mutex per limiter that every key takes. Denials
// are not counted. It has no decision call without HTTP: OnLimit takes a
// ResponseWriter and a Request and sets the X-RateLimit-* headers, which it
// pays for here.
//
// throttled (gcra), GCRARateLimiterCtx over store/memstore: theoretical
// arrival times in an LRU cache (hashicorp/golang-lru, one mutex for all keys,
// 100,000 keys at most as ginlimit's default), updated by compare-and-swap,
// retried up to 10 times. Denials write nothing.
//
// sethvargo (fixed), memorystore: a map under one RWMutex and a mutex per
// bucket. A bucket refills at each tick of the interval counted from the
// key's first request, so it behaves as a fixed window; a denial takes
// nothing. Close stops its sweeper (every 6h by default).
//
// xrate (token), golang.org/x/time/rate: a rate.Limiter per key, written here
// (see xrate): the least work an in-memory limiter can do.

import (
	"context"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	ratelimit "github.com/JGLTechnologies/gin-rate-limit"
	"github.com/go-chi/httprate"
	sethvargo "github.com/sethvargo/go-limiter"
	"github.com/sethvargo/go-limiter/memorystore"
	"github.com/throttled/throttled/v2"
	"github.com/throttled/throttled/v2/store/memstore"
	"github.com/ulule/limiter/v3"
	ululememory "github.com/ulule/limiter/v3/drivers/store/memory"
	"golang.org/x/time/rate"

	"github.com/ginlimit/ginlimit/backend"
	"github.com/ginlimit/ginlimit/backend/memory"
)

// An admit reports whether the request of key was admitted, or an error
// when the library could not decide.
type admit func(key string) (bool, error)

// A memoryLibrary is one library, with one of its algorithms, in the memory
// scenarios. open returns a new store's decision call and closes the store
// with tb.Cleanup; each goroutine gets its decision call of its own from the
// function open returns, for the state it keeps.
type memoryLibrary struct {
	name string // "library/algorithm"
	open func(tb testing.TB) func() admit
}

func memoryLibraryName(l memoryLibrary) string { return l.name }

// memoryLibraries lists the libraries of the memory-admit and memory-hot
// scenarios.
var memoryLibraries = []memoryLibrary{
	{"ginlimit/sliding", ginlimitAdmit(backend.SlidingWindow)},
	{"ginlimit/fixed", ginlimitAdmit(backend.FixedWindow)},
	{"ginlimit/token", ginlimitAdmit(backend.TokenBucket)},
	{"ulule/fixed", ululeAdmit},
	{"jgl/fixed", jglAdmit},
	{"httprate/sliding", httprateAdmit},
	{"throttled/gcra", throttledAdmit},
	{"sethvargo/fixed", sethvargoAdmit},
	{"xrate/token", xrateAdmit},
}

// benchMemoryAdmit measures admissions at each library's decision call over
// numKeys distinct keys.
func benchMemoryAdmit(b *testing.B) {
	keys := distinctKeys(b, numKeys)
	jglMemory() // before the leak checks, which would report its goroutine
	for _, lib := range memoryLibraries {
		b.Run(lib.name, func(b *testing.B) {
			checkGoroutines(b)
			walk(b, keys, lib.open(b))
		})
	}
}

// benchMemoryHot measures admissions of one key from every goroutine at
// each library's decision call: what one busy client, or a limit shared by
// all (a global or per-route limit), costs a store that locks per key.
func benchMemoryHot(b *testing.B) {
	jglMemory() // before the leak checks, which would report its goroutine
	for _, lib := range memoryLibraries {
		b.Run(lib.name, func(b *testing.B) {
			checkGoroutines(b)
			walk(b, []string{hotKey}, lib.open(b))
		})
	}
}

// walk measures admissions spread over keys as many clients send them. It
// first admits each key once, untimed, so that the timed loop finds every
// key in the store instead of measuring its insertion. Then each of
// b.RunParallel's goroutines walks the keys in one shuffled order, from an
// offset of its own, with its own admit from newAdmit. walk fails b if any
// request was denied, and reports errs/op: the decisions that failed, such
// as a compare-and-swap that lost to other goroutines too many times.
func walk(b *testing.B, keys []string, newAdmit func() admit) {
	b.Helper()
	admits := make([]admit, runtime.GOMAXPROCS(0)) // one per goroutine of b.RunParallel
	for i := range admits {
		admits[i] = newAdmit()
	}
	for _, key := range keys {
		if ok, err := admits[0](key); !ok || err != nil {
			b.Fatalf("warm-up: %s not admitted (error: %v)", key, err)
		}
	}
	order := slices.Clone(keys)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })

	var goroutines atomic.Int64
	var wrong tally
	// Collect the garbage of the setup, and of the runs before, now rather
	// than while the timer runs.
	runtime.GC()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		g := int(goroutines.Add(1))
		admit := admits[g-1]
		i := g * 7919 // a prime stride spreads the starting offsets
		for pb.Next() {
			if ok, err := admit(order[i%len(order)]); !ok || err != nil {
				wrong.add(err)
			}
			i++
		}
	})
	b.StopTimer()
	wrong.check(b, "denied", "all admitted")
}

// shared gives every goroutine the same admit, for libraries that keep no
// state per caller.
func shared(a admit) func() admit { return func() admit { return a } }

// roomyLimits is roomyQuota in ginlimit's terms.
var roomyLimits = []backend.Limit{{Count: roomyQuota.count, Period: roomyQuota.period}}

func ginlimitAdmit(strategy backend.Strategy) func(testing.TB) func() admit {
	return func(tb testing.TB) func() admit {
		store, err := memory.New()
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { store.Close() })
		p := backend.Policy{Strategy: strategy, Limits: roomyLimits}
		return shared(func(key string) (bool, error) {
			r, err := store.Allow(context.Background(), key, p, 1)
			return r.Allowed, err
		})
	}
}

// newUluleMemory returns an ulule limiter on a memory store without its
// sweeper, which only the garbage collector can stop.
func newUluleMemory() *limiter.Limiter {
	store := ululememory.NewStoreWithOptions(limiter.StoreOptions{Prefix: limiter.DefaultPrefix})
	return limiter.New(store, limiter.Rate{Period: roomyQuota.period, Limit: roomyQuota.count})
}

func ululeAdmit(testing.TB) func() admit {
	lim := newUluleMemory()
	return shared(func(key string) (bool, error) {
		c, err := lim.Get(context.Background(), key)
		return !c.Reached, err
	})
}

// jglMemory returns the process's one JGL memory store: InMemoryStore starts
// a goroutine that nothing stops, so that benchmarks share one store rather
// than leak a goroutine each.
var jglMemory = sync.OnceValue(func() ratelimit.Store {
	return ratelimit.InMemoryStore(&ratelimit.InMemoryOptions{Rate: roomyQuota.period, Limit: uint(roomyQuota.count)})
})

func jglAdmit(testing.TB) func() admit {
	store := jglMemory()
	// The gin.Context is only for the store's Skip option, not set here.
	return shared(func(key string) (bool, error) { return !store.Limit(key, nil).RateLimited, nil })
}

func httprateAdmit(testing.TB) func() admit {
	rl := httprate.NewRateLimiter(int(roomyQuota.count), roomyQuota.period)
	return func() admit {
		w, req := newRecorder(), newRequest("192.0.2.1")
		return func(key string) (bool, error) {
			clear(w.header)
			return !rl.OnLimit(w, req, key), nil
		}
	}
}

// newThrottledMemory returns a throttled GCRA limiter on a memory store that
// holds as many keys as ginlimit's by default.
func newThrottledMemory(tb testing.TB) *throttled.GCRARateLimiterCtx {
	store, err := memstore.NewCtx(memory.DefaultMaxKeys)
	if err != nil {
		tb.Fatal(err)
	}
	// The burst is the quota: a GCRA limiter admits MaxBurst+1 at once.
	lim, err := throttled.NewGCRARateLimiterCtx(store, throttled.RateQuota{
		MaxRate:  throttled.PerDuration(int(roomyQuota.count), roomyQuota.period),
		MaxBurst: int(roomyQuota.count) - 1,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return lim
}

func throttledAdmit(tb testing.TB) func() admit {
	lim := newThrottledMemory(tb)
	return shared(func(key string) (bool, error) {
		limited, _, err := lim.RateLimitCtx(context.Background(), key, 1)
		return !limited, err
	})
}

// newSethvargoMemory returns a sethvargo memory store, closed with
// tb.Cleanup.
func newSethvargoMemory(tb testing.TB) sethvargo.Store {
	store, err := memorystore.New(&memorystore.Config{Tokens: uint64(roomyQuota.count), Interval: roomyQuota.period})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { store.Close(context.Background()) })
	return store
}

func sethvargoAdmit(tb testing.TB) func() admit {
	store := newSethvargoMemory(tb)
	return shared(func(key string) (bool, error) {
		_, _, _, ok, err := store.Take(context.Background(), key)
		return ok, err
	})
}

// xrate keeps a golang.org/x/time/rate token bucket per key in a sync.Map,
// whose reads of a key it holds take no lock. It never forgets a key: it is a
// floor for the others, not a limiter to deploy.
type xrate struct {
	limiters sync.Map // key -> *rate.Limiter
}

// allow reports whether key may proceed, taking a token if so.
func (x *xrate) allow(key string) bool {
	l, ok := x.limiters.Load(key)
	if !ok {
		every := roomyQuota.period / time.Duration(roomyQuota.count)
		l, _ = x.limiters.LoadOrStore(key, rate.NewLimiter(rate.Every(every), int(roomyQuota.count)))
	}
	return l.(*rate.Limiter).Allow()
}

func xrateAdmit(testing.TB) func() admit {
	x := new(xrate)
	return shared(func(key string) (bool, error) { return x.allow(key), nil })
}
