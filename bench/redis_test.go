package bench

// The Redis scenarios compare ginlimit with the peers that keep their counts
// in Redis. Each library runs with the client its documentation shows, set up
// as that client's documentation recommends for the load (see "Clients"
// below); every call that takes a context is given ginlimit's default Redis
// timeout (redisTimeout). Every library decides from the same number of
// goroutines, redisGoroutines. What each library does per decision, as read
// from its source:
//
// ginlimit (sliding, fixed, token), on rueidis: one Lua script per decision
// (EVALSHA, EVAL after NOSCRIPT) that runs TIME and HMGET, and to admit HSET,
// with PEXPIRE when the key's expiry moves: 4 or 5 commands, sent through
// rueidis's auto-pipelining, so concurrent decisions share round trips.
// Denials write nothing and are not counted. A denied key is watched through
// client-side caching (one HGET through the cache); until Redis reports a
// change, the same request is denied in memory, with no command at all. With
// Redis down, a circuit breaker opens and requests are decided in memory.
//
// ulule (fixed), ulule/limiter/v3 with drivers/store/redis on go-redis: one
// EVALSHA per decision that runs INCRBY, then PEXPIRE (first request of a
// window) or PTTL: 3 commands. Denials are counted: every request
// increments, so a client that keeps asking stays denied. With Redis down the
// store returns the error and the Gin middleware's default error handler
// panics; here it answers 500, as a user would configure with
// WithErrorHandler. The middleware passes the gin.Context as the context,
// which has no deadline: go-redis's retries decide how long a request waits.
//
// redis_rate (gcra), go-redis/redis_rate/v10: one EVALSHA (EVAL after
// NOSCRIPT) that runs TIME and GET, and SET when it admits: 4 commands, 3 for a
// denial, which is not counted. It has no middleware; the Gin wrapper here
// answers 500 when it fails, as it does with Redis down.
//
// throttled (gcra), throttled/v2 GCRARateLimiterCtx over
// store/goredisstore.v9: an optimistic compare-and-swap driven by the client.
// A pipeline of TIME and GET, then SETNX and EXPIRE (a new key: two more round
// trips) or an EVAL of a compare-and-swap script sent in full every time (GET,
// SETEX), repeated up to 10 times when another request changed the key in
// between. An admission takes 2 or 3 round trips and 4 or 5 commands, a
// denial (not counted) 1 round trip and 2 commands. Its middleware is for
// net/http; the Gin wrapper here answers 500 when it fails.
//
// jgl (fixed), JGLTechnologies/gin-rate-limit RedisStore on go-redis: a
// pipeline of GET key+"ts" and GET key+"hits", then for an admission a
// pipeline of INCR, SET, EXPIRE and EXPIRE: 2 round trips and 6 commands; a
// denial (not counted) takes 1 round trip and 2 commands. The check and the
// increment are not atomic, so concurrent requests can all pass on one count.
// The window restarts at every admitted request (ts is rewritten), so the
// count of a client that keeps coming back never resets. Keys are the bare
// client IP and route, without a prefix. It takes no context (context.TODO,
// no deadline), returns no error, and with Redis down admits every request
// (unless PanicOnErr), each after go-redis's retries.
//
// Clients. ginlimit runs on rueidis, configured as ginlimit configures its
// own: automatic pipelining (rueidis's default for concurrent callers, over
// 4 connections), so that the commands of concurrent decisions share
// round trips and system calls. Every peer runs on go-redis v9.23.0, whose
// pool hands each command a connection of its own and makes a caller wait
// (up to PoolTimeout) while all PoolSize connections are busy. Its default,
// 10 connections a CPU, is 20 on 2 CPUs: with more goroutines than that,
// a peer's decisions would queue for a connection, which measures the pool
// rather than the library. go-redis's documentation points to PoolSize for
// more connections than that, so the peers get one connection a
// goroutine (goRedisPoolSize; -peers.pool changes it). The other go-redis
// defaults stand: a separate pool of 10 connections for pipelines
// (throttled, jgl), which spills into the main pool when busy; MaxRetries 3
// with 10ms to 1s of backoff, also for failed dials; each dial tried 5 times
// 100ms apart (DialerRetries); DialTimeout 5s; ReadTimeout and WriteTimeout
// 5s; PoolTimeout 6s; RESP3. After PoolSize failed dials in a row a pool
// fails at once until a background goroutine, trying once a second,
// connects again; but a failed dial is retried with backoff like any
// command, so a call under a deadline still waits until the deadline.
//
// Redis CPU per decision is measured two ways. redis-us/op is the processor
// time of the redis-server process (INFO cpu, used_cpu_sys+used_cpu_user):
// everything the server does, reading and writing sockets included, so it
// falls when a client pipelines. cmd-us/op is the time Redis spent running
// the commands the library sent (INFO commandstats usec): a script counts
// whole, and the commands it runs inside (redisLibrary.scriptCalls) are not
// counted again; it leaves out the network work, and so does not depend on
// how the client batches commands.

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	ratelimit "github.com/JGLTechnologies/gin-rate-limit"
	"github.com/gin-gonic/gin"
	"github.com/go-redis/redis_rate/v10"
	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"
	"github.com/throttled/throttled/v2"
	"github.com/throttled/throttled/v2/store/goredisstore.v9"
	"github.com/ulule/limiter/v3"
	ululegin "github.com/ulule/limiter/v3/drivers/middleware/gin"
	ululeredis "github.com/ulule/limiter/v3/drivers/store/redis"
	"go.uber.org/goleak"

	"github.com/ginlimit/ginlimit"
	"github.com/ginlimit/ginlimit/backend"
	"github.com/ginlimit/ginlimit/backend/redis"
	"github.com/ginlimit/ginlimit/httplimit"
	"github.com/ginlimit/ginlimit/internal/redistest"
	"github.com/ginlimit/ginlimit/internal/redisurl"
)

// redisTimeout bounds every decision that takes a context: ginlimit's
// default, given to the peers as well.
const redisTimeout = httplimit.DefaultRedisTimeout

// A quota admits count requests a period; each library gets it in its own
// terms.
type quota struct {
	count  int64
	period time.Duration
}

var (
	// roomyQuota is never used up, so that every decision is an admission.
	roomyQuota = quota{count: 1_000_000_000, period: time.Hour}
	// tightQuota is used up by one request.
	tightQuota = quota{count: 1, period: time.Hour}
)

// A decider reports whether the request of key is admitted, or an error
// when the library could not decide.
type decider func(ctx context.Context, key string) (bool, error)

// A redisLibrary is one library, with one of its algorithms, under test. Its
// constructors connect to srv and register the closing of what they open
// with tb.Cleanup.
type redisLibrary struct {
	name string // "library/algorithm"

	// scriptCalls lists the commands, as INFO commandstats names them, that
	// the library's Lua scripts run and that it never sends on its own: their
	// time is part of the script's, and cmd-us/op counts it once. A command
	// missing here is counted twice, which can only make the library look
	// slower.
	scriptCalls []string

	// decider returns the library's decision call, as close to Redis as the
	// library lets one get.
	decider func(tb testing.TB, srv *redistest.Server, q quota) decider

	// middleware returns the Gin middleware a user installs to limit by
	// client IP: the library's own when it has one.
	middleware func(tb testing.TB, srv *redistest.Server, q quota) gin.HandlerFunc

	// failsOver reports whether the library keeps deciding with Redis down,
	// so that a 5xx then is a bug.
	failsOver bool
}

func redisLibraryName(l redisLibrary) string { return l.name }

// redisLibraries lists the libraries of the Redis scenarios.
var redisLibraries = []redisLibrary{
	ginlimitLibrary("sliding", backend.SlidingWindow),
	ginlimitLibrary("fixed", backend.FixedWindow),
	ginlimitLibrary("token", backend.TokenBucket),
	{
		name: "ulule/fixed", decider: ululeDecider, middleware: ululeMiddleware,
		scriptCalls: []string{"incrby", "pexpire", "pttl", "get"},
	},
	{
		name: "redis_rate/gcra", decider: redisRateDecider, middleware: wrap(redisRateDecider),
		scriptCalls: []string{"time", "get", "set"},
	},
	{
		// Its script also runs GET, which it sends on its own too: the GET
		// of each EVAL is counted twice in cmd-us/op (about 0.3 µs).
		name: "throttled/gcra", decider: throttledDecider, middleware: wrap(throttledDecider),
		scriptCalls: []string{"setex"},
	},
	{name: "jgl/fixed", decider: jglDecider, middleware: jglMiddleware},
}

// redisGoroutines returns how many goroutines the Redis scenarios decide
// from: -peers.goroutines, 64 by default, whatever GOMAXPROCS is.
func redisGoroutines() int { return max(1, *goroutinesFlag) }

// goRedisPoolSize returns the PoolSize of the peers' go-redis clients: one
// connection a goroutine, so that no decision waits for a connection, unless
// -peers.pool says otherwise (0 for go-redis's default).
func goRedisPoolSize() int {
	switch n := *poolFlag; {
	case n > 0:
		return n
	case n < 0:
		return 0
	}
	return redisGoroutines()
}

// ginlimitLibrary decides with ginlimit's Redis store, built over a client
// configured as ginlimit configures its own (redisConfig.dialer), and limits
// requests with a Limiter given the Redis URL.
func ginlimitLibrary(algorithm string, strategy backend.Strategy) redisLibrary {
	return redisLibrary{
		name:      "ginlimit/" + algorithm,
		failsOver: true,
		// Not TIME: the Store may send it on its own, to follow the
		// server's clock.
		scriptCalls: []string{"hmget", "hset", "pexpire"},
		decider: func(tb testing.TB, srv *redistest.Server, q quota) decider {
			opt, err := redisurl.Parse(srv.URL())
			if err != nil {
				tb.Fatal(err)
			}
			tracker := redis.NewTracker()
			opt.OnInvalidations = tracker.Invalidated
			opt.DisableRetry = true
			opt.Dialer.Timeout = httplimit.DefaultRedisDialTimeout
			opt.CacheSizeEachConn = 4 << 20 // ginlimit's redisCacheBytes
			client, err := rueidis.NewClient(opt)
			if err != nil {
				tb.Fatal(err)
			}
			tb.Cleanup(client.Close)
			store, err := redis.New(client, redis.WithTracker(tracker))
			if err != nil {
				tb.Fatal(err)
			}
			tb.Cleanup(func() { store.Close() })
			p := backend.Policy{Strategy: strategy, Limits: []backend.Limit{{Count: q.count, Period: q.period}}}
			return func(ctx context.Context, key string) (bool, error) {
				r, err := store.Allow(ctx, key, p, 1)
				return r.Allowed, err
			}
		},
		middleware: func(tb testing.TB, srv *redistest.Server, q quota) gin.HandlerFunc {
			lim, err := ginlimit.NewLimiter(
				ginlimit.WithRedisURL(srv.URL()),
				ginlimit.WithLimits(backend.FormatLimits([]backend.Limit{{Count: q.count, Period: q.period}})),
				ginlimit.WithStrategy(strategy),
				ginlimit.WithLogger(discardLogger()),
			)
			if err != nil {
				tb.Fatal(err)
			}
			tb.Cleanup(func() { lim.Close() })
			// The Limiter connects in the background, deciding in memory
			// until then.
			for deadline := time.Now().Add(10 * time.Second); !lim.Status().RedisConnected; {
				if time.Now().After(deadline) {
					tb.Fatalf("ginlimit did not connect to Redis: %+v", lim.Status())
				}
				time.Sleep(10 * time.Millisecond)
			}
			return lim.Middleware()
		},
	}
}

// newGoRedis returns a go-redis client of srv with the default settings but
// PoolSize, which is goRedisPoolSize.
func newGoRedis(tb testing.TB, srv *redistest.Server) *goredis.Client {
	c := goredis.NewClient(&goredis.Options{Addr: srv.Addr(), PoolSize: goRedisPoolSize()})
	tb.Cleanup(func() { c.Close() })
	return c
}

func newUlule(tb testing.TB, srv *redistest.Server, q quota) *limiter.Limiter {
	store, err := ululeredis.NewStore(newGoRedis(tb, srv))
	if err != nil {
		tb.Fatal(err)
	}
	return limiter.New(store, limiter.Rate{Period: q.period, Limit: q.count})
}

func ululeDecider(tb testing.TB, srv *redistest.Server, q quota) decider {
	lim := newUlule(tb, srv, q)
	return func(ctx context.Context, key string) (bool, error) {
		c, err := lim.Get(ctx, key)
		return !c.Reached, err
	}
}

func ululeMiddleware(tb testing.TB, srv *redistest.Server, q quota) gin.HandlerFunc {
	return ululegin.NewMiddleware(newUlule(tb, srv, q), ululegin.WithErrorHandler(func(c *gin.Context, err error) {
		c.AbortWithStatus(http.StatusInternalServerError)
	}))
}

func redisRateDecider(tb testing.TB, srv *redistest.Server, q quota) decider {
	lim := redis_rate.NewLimiter(newGoRedis(tb, srv))
	limit := redis_rate.Limit{Rate: int(q.count), Burst: int(q.count), Period: q.period}
	return func(ctx context.Context, key string) (bool, error) {
		r, err := lim.Allow(ctx, key, limit)
		if err != nil {
			return false, err
		}
		return r.Allowed > 0, nil
	}
}

func throttledDecider(tb testing.TB, srv *redistest.Server, q quota) decider {
	store, err := goredisstore.NewCtx(newGoRedis(tb, srv), "throttled:")
	if err != nil {
		tb.Fatal(err)
	}
	// The burst is the quota: a GCRA limiter admits MaxBurst+1 at once.
	lim, err := throttled.NewGCRARateLimiterCtx(store, throttled.RateQuota{
		MaxRate:  throttled.PerDuration(int(q.count), q.period),
		MaxBurst: int(q.count) - 1,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return func(ctx context.Context, key string) (bool, error) {
		limited, _, err := lim.RateLimitCtx(ctx, key, 1)
		return !limited, err
	}
}

func newJGL(tb testing.TB, srv *redistest.Server, q quota) ratelimit.Store {
	return ratelimit.RedisStore(&ratelimit.RedisOptions{RedisClient: newGoRedis(tb, srv), Rate: q.period, Limit: uint(q.count)})
}

// jglDecider ignores ctx: the store takes none, and reports no error.
func jglDecider(tb testing.TB, srv *redistest.Server, q quota) decider {
	store := newJGL(tb, srv, q)
	return func(_ context.Context, key string) (bool, error) {
		return !store.Limit(key, nil).RateLimited, nil
	}
}

func jglMiddleware(tb testing.TB, srv *redistest.Server, q quota) gin.HandlerFunc {
	return ratelimit.RateLimiter(newJGL(tb, srv, q), nil)
}

// wrap returns the middleware a Gin user would write around a library's
// decision call: by client IP, within redisTimeout, 429 when denied, 500
// when the library fails.
func wrap(newDecider func(testing.TB, *redistest.Server, quota) decider) func(testing.TB, *redistest.Server, quota) gin.HandlerFunc {
	return func(tb testing.TB, srv *redistest.Server, q quota) gin.HandlerFunc {
		decide := newDecider(tb, srv, q)
		return func(c *gin.Context) {
			ctx, cancel := context.WithTimeout(c.Request.Context(), redisTimeout)
			ok, err := decide(ctx, c.ClientIP())
			cancel()
			switch {
			case err != nil:
				c.AbortWithStatus(http.StatusInternalServerError)
			case !ok:
				c.AbortWithStatus(http.StatusTooManyRequests)
			}
		}
	}
}

// decide runs one decision within redisTimeout.
func (d decider) decide(key string) (bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), redisTimeout)
	defer cancel()
	return d(ctx, key)
}

// openDecider empties srv, builds lib's decider of q, and makes sure that
// nothing lib starts outlives the benchmark.
func openDecider(b *testing.B, srv *redistest.Server, lib redisLibrary, q quota) decider {
	b.Helper()
	if _, err := srv.Do(b, "FLUSHALL"); err != nil {
		b.Fatal(err)
	}
	checkGoroutines(b)
	return lib.decider(b, srv, q)
}

// expect fails b unless d decides key as want.
func expect(b *testing.B, d decider, key string, want bool) {
	b.Helper()
	if got, err := d.decide(key); err != nil || got != want {
		b.Fatalf("decision for %q: got admitted=%v, err=%v; want admitted=%v", key, got, err, want)
	}
}

// benchRedisAdmit measures admissions over numKeys distinct keys that Redis
// already holds, from redisGoroutines goroutines.
func benchRedisAdmit(b *testing.B) {
	srv := redistest.Start(b)
	keys := distinctKeys(b, numKeys)
	for _, lib := range redisLibraries {
		b.Run(lib.name, func(b *testing.B) {
			d := openDecider(b, srv, lib, roomyQuota)
			expect(b, d, "192.0.2.1", true) // connects and loads scripts
			warm(b, d, keys)
			var wrong tally
			timeDecisions(b, srv, lib, func(g, i int) {
				// A prime stride spreads the starting offsets over the keys.
				if ok, err := d.decide(keys[(g*7919+i)%numKeys]); !ok || err != nil {
					wrong.add(err)
				}
			})
			wrong.check(b, "denied", "all admitted")
		})
	}
}

// benchRedisHot measures admissions of one key from every goroutine at once:
// one client sending many requests in parallel, or a limit that all clients
// share, such as one per route.
func benchRedisHot(b *testing.B) {
	srv := redistest.Start(b)
	for _, lib := range redisLibraries {
		b.Run(lib.name, func(b *testing.B) {
			d := openDecider(b, srv, lib, roomyQuota)
			expect(b, d, hotKey, true) // connects, loads scripts, creates the key
			var wrong tally
			timeDecisions(b, srv, lib, func(int, int) {
				if ok, err := d.decide(hotKey); !ok || err != nil {
					wrong.add(err)
				}
			})
			wrong.check(b, "denied", "all admitted")
		})
	}
}

// timeDecisions times b.N calls of decide shared among redisGoroutines
// goroutines, the same number for every library; decide(g, i) makes the
// i-th decision of goroutine g. Then it reports what reportCommands reports
// of srv over that time.
func timeDecisions(b *testing.B, srv *redistest.Server, lib redisLibrary, decide func(g, i int)) {
	b.Helper()
	srv.ResetStats(b)
	cpu := srv.CPU(b)
	var started atomic.Int64
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	for g := range redisGoroutines() {
		wg.Go(func() {
			for i := 0; started.Add(1) <= int64(b.N); i++ {
				decide(g, i)
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	reportCommands(b, srv, cpu, lib)
}

// warm admits each key once, untimed, from redisGoroutines goroutines, so
// that the timed loop measures clients Redis already holds, as a server's
// steady state does, not the creation of their keys.
func warm(b *testing.B, d decider, keys []string) {
	b.Helper()
	workers := redisGoroutines()
	var wg sync.WaitGroup
	var wrong tally
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(keys); i += workers {
				if ok, err := d.decide(keys[i]); !ok || err != nil {
					wrong.add(err)
				}
			}
		})
	}
	wg.Wait()
	if n := wrong.wrong.Load() + wrong.errs.Load(); n > 0 {
		b.Fatalf("warm-up: %d of %d keys not admitted (first error: %v)", n, len(keys), wrong.first)
	}
}

// benchRedisDeny measures denials of one key over its limit, from
// redisGoroutines goroutines.
func benchRedisDeny(b *testing.B) {
	srv := redistest.Start(b)
	const key = "198.51.100.7"
	for _, lib := range redisLibraries {
		b.Run(lib.name, func(b *testing.B) {
			d := openDecider(b, srv, lib, tightQuota)
			expect(b, d, key, true)
			expect(b, d, key, false)
			var wrong tally
			timeDecisions(b, srv, lib, func(int, int) {
				if ok, err := d.decide(key); ok || err != nil {
					wrong.add(err)
				}
			})
			wrong.check(b, "admitted", "all denied")
		})
	}
}

// benchRedisDown measures requests through each library's Gin middleware
// after its Redis server was killed, from GOMAXPROCS goroutines. It reports
// the slowest request (max-ms) and the share of each kind of answer.
func benchRedisDown(b *testing.B) {
	// go-redis logs every failed dial to stderr; keep the results readable.
	goredis.SetLogger(discardGoRedisLog{})
	keys := distinctKeys(b, 1024)
	for _, lib := range redisLibraries {
		b.Run(lib.name, func(b *testing.B) {
			checkGoroutines(b)
			srv := redistest.Start(b)
			engine := gin.New()
			if err := engine.SetTrustedProxies(nil); err != nil {
				b.Fatal(err)
			}
			engine.Use(lib.middleware(b, srv, roomyQuota))
			engine.GET("/", func(c *gin.Context) { c.Status(http.StatusNoContent) })
			if w := newRecorder(); w.serve(engine, newRequest("192.0.2.1")) != http.StatusNoContent {
				b.Fatalf("with Redis up: got status %d, want %d", w.code, http.StatusNoContent)
			}
			srv.Kill(b)

			var goroutines, slowest, ok2xx, denied, failed atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				req := newRequest(keys[int(goroutines.Add(1))%len(keys)])
				w := newRecorder()
				for pb.Next() {
					start := time.Now()
					code := w.serve(engine, req)
					storeMax(&slowest, int64(time.Since(start)))
					switch {
					case code >= 500:
						failed.Add(1)
					case code == http.StatusTooManyRequests:
						denied.Add(1)
					case code < 300:
						ok2xx.Add(1)
					}
				}
			})
			b.StopTimer()
			n := float64(b.N)
			b.ReportMetric(float64(slowest.Load())/1e6, "max-ms")
			b.ReportMetric(float64(failed.Load())/n, "5xx/op")
			b.ReportMetric(float64(denied.Load())/n, "429/op")
			b.ReportMetric(float64(ok2xx.Load())/n, "2xx/op")
			if lib.failsOver && failed.Load() > 0 {
				b.Fatalf("%d of %d requests answered 5xx with Redis down, want none", failed.Load(), b.N)
			}
		})
	}
}

// discardGoRedisLog is a go-redis logger that writes nothing.
type discardGoRedisLog struct{}

func (discardGoRedisLog) Printf(context.Context, string, ...any) {}

// newRequest returns a GET / from the client at ip.
func newRequest(ip string) *http.Request {
	req, err := http.NewRequest(http.MethodGet, "/", nil)
	if err != nil {
		panic(err)
	}
	req.RemoteAddr = ip + ":40000"
	return req
}

// A recorder is a minimal http.ResponseWriter, reused from request to
// request, that keeps only the status code.
type recorder struct {
	header http.Header
	code   int
}

func newRecorder() *recorder { return &recorder{header: make(http.Header)} }

func (w *recorder) Header() http.Header { return w.header }

func (w *recorder) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

func (w *recorder) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return len(p), nil
}

// serve serves req with h and returns the status code.
func (w *recorder) serve(h http.Handler, req *http.Request) int {
	clear(w.header)
	w.code = 0
	h.ServeHTTP(w, req)
	w.WriteHeader(http.StatusOK)
	return w.code
}

// storeMax raises *m to v if v is larger.
func storeMax(m *atomic.Int64, v int64) {
	for cur := m.Load(); v > cur && !m.CompareAndSwap(cur, v); cur = m.Load() {
	}
}

// A tally counts the decisions that went the wrong way and those that
// failed with an error, and keeps the first error.
type tally struct {
	wrong, errs atomic.Int64
	once        sync.Once
	first       error
}

func (t *tally) add(err error) {
	if err == nil {
		t.wrong.Add(1)
		return
	}
	t.errs.Add(1)
	t.once.Do(func() { t.first = err })
}

// check fails b if any decision went the wrong way, and reports errs/op: the
// decisions that failed, such as a call that outlived its 100 ms deadline
// while many goroutines queued on one Redis, or a compare-and-swap that lost
// too many times. A failed decision is the library's answer under load, not
// a fault of the benchmark. check must not run concurrently with add.
func (t *tally) check(b *testing.B, what, want string) {
	b.Helper()
	if n := t.wrong.Load(); n > 0 {
		b.Fatalf("%d of %d requests %s, want %s", n, b.N, what, want)
	}
	if n := t.errs.Load(); n > 0 {
		b.Logf("%d of %d decisions failed; first error: %v", n, b.N, t.first)
	}
	b.ReportMetric(float64(t.errs.Load())/float64(b.N), "errs/op")
}

// reportCommands reports, per decision of lib since the last ResetStats of
// srv: cmds/op, the commands Redis ran, those of Lua scripts included and
// the benchmark's own excluded; cmd-us/op, the microseconds Redis spent
// running the commands lib sent (INFO commandstats, scripts counted whole);
// and redis-us/op, the processor time the server spent since it had spent
// cpu, in microseconds (INFO cpu), which bounds how many decisions one Redis
// can make for all the instances it serves.
func reportCommands(b *testing.B, srv *redistest.Server, cpu time.Duration, lib redisLibrary) {
	b.Helper()
	n := float64(b.N)
	b.ReportMetric(float64(srv.CPU(b)-cpu)/float64(time.Microsecond)/n, "redis-us/op")
	info, err := srv.Do(b, "INFO", "commandstats")
	if err != nil {
		b.Fatalf("INFO commandstats: %v", err)
	}
	stats, err := parseCommandStats(info)
	if err != nil {
		b.Fatalf("INFO commandstats: %v", err)
	}
	var calls, usec int64
	for name, st := range stats {
		switch name {
		case "info", "config|resetstat", "flushall": // the benchmark's own
			continue
		}
		calls += st.calls
		if !slices.Contains(lib.scriptCalls, name) {
			usec += st.usec
		}
	}
	b.ReportMetric(float64(calls)/n, "cmds/op")
	b.ReportMetric(float64(usec)/n, "cmd-us/op")
}

// A commandStat is one line of INFO commandstats.
type commandStat struct{ calls, usec int64 }

// parseCommandStats parses INFO commandstats, lines such as
//
//	cmdstat_evalsha:calls=3,usec=27,usec_per_call=9.00,rejected_calls=0,failed_calls=0
//
// into the stats of each command by name ("evalsha", "config|resetstat").
func parseCommandStats(info string) (map[string]commandStat, error) {
	stats := make(map[string]commandStat)
	for line := range strings.Lines(info) {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_")
		if !ok {
			continue
		}
		name, fields, ok := strings.Cut(rest, ":")
		if !ok {
			return nil, fmt.Errorf("malformed line %q", line)
		}
		var st commandStat
		found := 0
		for f := range strings.SplitSeq(fields, ",") {
			k, v, _ := strings.Cut(f, "=")
			var dst *int64
			switch k {
			case "calls":
				dst = &st.calls
			case "usec":
				dst = &st.usec
			default:
				continue
			}
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("malformed line %q: %v", line, err)
			}
			*dst = n
			found++
		}
		if found != 2 {
			return nil, fmt.Errorf("line %q lacks calls or usec", line)
		}
		stats[name] = st
	}
	return stats, nil
}

// checkGoroutines fails b if goroutines started after it outlive b's other
// cleanups by more than leakGrace.
func checkGoroutines(b *testing.B) {
	b.Helper()
	current := goleak.IgnoreCurrent()
	b.Cleanup(func() {
		deadline := time.Now().Add(leakGrace)
		for {
			err := goleak.Find(current) // retries for about half a second
			if err == nil {
				return
			}
			if time.Now().After(deadline) {
				b.Error(err)
				return
			}
		}
	})
}

// leakGrace is how long goroutines may take to exit after their client was
// closed: go-redis's dial prober checks once a second whether its pool was
// closed.
const leakGrace = 3 * time.Second

func TestParseCommandStats(t *testing.T) {
	info := "# Commandstats\r\n" +
		"cmdstat_evalsha:calls=3,usec=27,usec_per_call=9.00,rejected_calls=0,failed_calls=0\r\n" +
		"cmdstat_config|resetstat:calls=1,usec=5,usec_per_call=5.00,rejected_calls=0,failed_calls=0\r\n"
	got, err := parseCommandStats(info)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]commandStat{"evalsha": {3, 27}, "config|resetstat": {1, 5}}
	if len(got) != len(want) || got["evalsha"] != want["evalsha"] || got["config|resetstat"] != want["config|resetstat"] {
		t.Errorf("parseCommandStats = %v, want %v", got, want)
	}
	for _, bad := range []string{"cmdstat_get\r\n", "cmdstat_get:calls=x,usec=1\r\n", "cmdstat_get:calls=1\r\n"} {
		if _, err := parseCommandStats(bad); err == nil {
			t.Errorf("parseCommandStats(%q): got no error, want one", bad)
		}
	}
}
