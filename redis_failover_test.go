package ginlimit_test

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ginlimit/ginlimit"
	"github.com/ginlimit/ginlimit/backend"
	"github.com/ginlimit/ginlimit/backend/redis"
	"github.com/ginlimit/ginlimit/internal/redistest"
)

// The failover tests run several Limiters, as instances of a service, under
// steady load while the Redis master of some keys dies and a replica takes
// its place. A request's X-RateLimit-Limit tells which backend decided it:
// the Limiters' limit, failoverLimit, in Redis, or the tighter fallback
// limit in memory.
const (
	failoverLimit      = "1000000/hour"
	failoverFallback   = "999999/hour"
	failoverInstances  = 4
	failoverBackWithin = 10 * time.Second // back on Redis after the promotion
)

// failoverLoad sends requests from many clients to the instances, and
// checks their health ten times a second, until stopped, and records, per group of clients and per 10 ms, how many were
// decided in memory.
type failoverLoad struct {
	routers []*gin.Engine
	clients [][]string // per group, the clients' addresses
	start   time.Time

	mu      sync.Mutex
	buckets [][]loadBucket // per group, per 100 ms since start

	stop chan struct{}
	wg   sync.WaitGroup
}

type loadBucket struct{ total, memory int }

const loadBucketWidth = 10 * time.Millisecond

func startFailoverLoad(routers []*gin.Engine, clients [][]string) *failoverLoad {
	lr := &failoverLoad{routers: routers, clients: clients, start: time.Now(),
		buckets: make([][]loadBucket, len(clients)), stop: make(chan struct{})}
	for g := range 8 {
		lr.wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			for {
				select {
				case <-lr.stop:
					return
				default:
				}
				group := rng.IntN(len(clients))
				addr := clients[group][rng.IntN(len(clients[group]))]
				w := serve(routers[rng.IntN(len(routers))], request{remoteAddr: addr + ":1"})
				lr.record(group, w.Code, w.Header().Get("X-RateLimit-Limit"))
				time.Sleep(time.Millisecond)
			}
		})
	}
	lr.wg.Go(func() { // the platform's health checks, which ping Redis
		for {
			select {
			case <-lr.stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			for _, r := range routers {
				serve(r, request{path: ginlimit.HealthPath})
			}
		}
	})
	return lr
}

func (lr *failoverLoad) record(group, code int, limit string) {
	i := int(time.Since(lr.start) / loadBucketWidth)
	lr.mu.Lock()
	defer lr.mu.Unlock()
	for len(lr.buckets[group]) <= i {
		lr.buckets[group] = append(lr.buckets[group], loadBucket{})
	}
	b := &lr.buckets[group][i]
	b.total++
	if code != http.StatusOK || limit != "1000000" {
		b.memory++ // decided in memory (or, never expected, not admitted)
	}
}

// failover lets the load run a second, kills a master, waits for the
// failover, and stops the load once it has settled (see settle). It returns
// when the master was killed and the failover's timeline.
func (lr *failoverLoad) failover(kill func(), wait func() redistest.Failover) (killed time.Time, fo redistest.Failover) {
	time.Sleep(time.Second)
	killed = time.Now()
	kill()
	fo = wait()
	lr.settle(fo.Promoted, fo.Promoted.Add(failoverBackWithin))
	return killed, fo
}

// settleFor is how long the load runs on after the last decision in memory,
// to show that the instances stay on Redis.
const settleFor = 3 * time.Second

// settle runs the load on until, after promoted, no request has been decided
// in memory for settleFor, or until a second past deadline, and stops it.
func (lr *failoverLoad) settle(promoted, deadline time.Time) {
	for {
		time.Sleep(50 * time.Millisecond)
		now := time.Now()
		quiet := now.After(promoted)
		for g := range lr.clients {
			if now.Sub(lr.lastInMemory(g)) < settleFor {
				quiet = false
			}
		}
		if quiet || now.After(deadline.Add(time.Second)) {
			lr.finish()
			return
		}
	}
}

func (lr *failoverLoad) finish() {
	close(lr.stop)
	lr.wg.Wait()
}

// between returns the requests of group sent in [from, to), to within 10
// ms (only the requests of the 10 ms that hold from and to both are left
// out), and how many of them were decided in memory.
func (lr *failoverLoad) between(group int, from, to time.Time) (total, memory int) {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	for i, b := range lr.buckets[group] {
		at := lr.start.Add(time.Duration(i) * loadBucketWidth)
		if !at.Before(from) && !at.Add(loadBucketWidth).After(to) {
			total, memory = total+b.total, memory+b.memory
		}
	}
	return total, memory
}

// lastInMemory returns when group's last request decided in memory was
// sent, to within 10 ms, or the zero time.
func (lr *failoverLoad) lastInMemory(group int) time.Time {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	for i := len(lr.buckets[group]) - 1; i >= 0; i-- {
		if lr.buckets[group][i].memory > 0 {
			return lr.start.Add(time.Duration(i+1) * loadBucketWidth)
		}
	}
	return time.Time{}
}

// failoverRouters returns the routers of n Limiters on url, with a route
// /burst limited to 100/hour, and the Limiters.
func failoverRouters(t *testing.T, url string, n int) ([]*gin.Engine, []*ginlimit.Limiter) {
	t.Helper()
	var routers []*gin.Engine
	var limiters []*ginlimit.Limiter
	logs := &logBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs:\n%s", logs.String())
		}
	})
	for range n {
		l := redisLimiter(t, url, true, ginlimit.WithLimits(failoverLimit), ginlimit.WithFallbackLimits(failoverFallback),
			ginlimit.WithRedisTimeout(500*time.Millisecond), ginlimit.WithLogger(logs.logger()))
		r := newRouter(l)
		ginlimit.RegisterHealth(r, l)
		r.GET("/burst", l.Limit("100/hour"), func(c *gin.Context) { c.Status(http.StatusOK) })
		routers, limiters = append(routers, r), append(limiters, l)
	}
	return routers, limiters
}

// failedCalls returns the calls to Redis that failed, over the Limiters.
func failedCalls(limiters []*ginlimit.Limiter) uint64 {
	var n uint64
	for _, l := range limiters {
		n += l.Stats().Errors
	}
	return n
}

// clientsOf sorts n client addresses by whether the master of their Redis
// key is the given server: those on other masters first, then its own.
func clientsOf(t *testing.T, cluster *redistest.Cluster, master *redistest.Server, n int) [][]string {
	t.Helper()
	p := backend.Policy{Strategy: backend.SlidingWindow, Limits: mustLimits(t, failoverLimit)}
	groups := make([][]string, 2)
	for i := 0; len(groups[0]) < n || len(groups[1]) < n; i++ {
		addr := "198.51." + strconv.Itoa(i/250) + "." + strconv.Itoa(i%250+1)
		g := 0
		if cluster.MasterOf(t, redis.Key("ginlimit:default:"+addr, p)) == master {
			g = 1
		}
		if len(groups[g]) < n {
			groups[g] = append(groups[g], addr)
		}
	}
	return groups
}

func mustLimits(t *testing.T, s string) []backend.Limit {
	t.Helper()
	limits, err := backend.ParseLimits(s)
	require.NoError(t, err)
	return limits
}

// burstClient returns the address of a client whose key on /burst is
// served by master.
func burstClient(t *testing.T, cluster *redistest.Cluster, master *redistest.Server) string {
	t.Helper()
	p := backend.Policy{Strategy: backend.SlidingWindow, Limits: mustLimits(t, "100/hour")}
	for i := 0; ; i++ {
		addr := "203.0." + strconv.Itoa(i/250) + "." + strconv.Itoa(i%250+1)
		if cluster.MasterOf(t, redis.Key("ginlimit:/burst:"+addr, p)) == master {
			return addr
		}
	}
}

// TestRedisClusterMasterFailover kills, under load from several instances,
// the master of some keys of a 3+3 Redis Cluster, and checks that every
// instance is back on Redis for good soon after the replica's promotion,
// with an exact limit: with the URL's seeds in the cluster's order, with
// the killed master as the first seed, and, when the cluster lets each
// master serve its own slots while another's are not served
// (cluster-require-full-coverage no), that the keys of the other masters
// stay on Redis throughout. With full coverage, as by default, Redis itself
// refuses every key from the moment the master is marked failed until the
// promotion.
func TestRedisClusterMasterFailover(t *testing.T) {
	tests := []struct {
		name      string
		firstSeed bool
		partial   bool
	}{
		{name: "partial coverage", partial: true},
		{name: "partial coverage, first seed", firstSeed: true, partial: true},
		{name: "full coverage"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := []redistest.ClusterOption{redistest.ReplicasPerMaster(1), redistest.NodeTimeout(time.Second)}
			if tt.partial {
				opts = append(opts, redistest.PartialCoverage())
			}
			cluster := redistest.StartCluster(t, opts...)
			victim := cluster.Masters(t)[1]
			url := cluster.URL()
			if tt.firstSeed {
				url = cluster.URLFirst(victim)
			}
			routers, limiters := failoverRouters(t, url, failoverInstances)
			clients := clientsOf(t, cluster, victim, 200)
			burstAddr := burstClient(t, cluster, victim)
			const healthy, failed = 0, 1

			load := startFailoverLoad(routers, clients)
			killed, fo := load.failover(func() { victim.Kill(t) }, func() redistest.Failover { return cluster.WaitFailover(t, victim) })
			deadline := fo.Promoted.Add(failoverBackWithin)
			end := time.Now()

			before, beforeMem := load.between(healthy, load.start, killed)
			b2, b2Mem := load.between(failed, load.start, killed)
			okTotal, okMem := load.between(healthy, killed, end)
			outTotal, outMem := load.between(failed, killed, fo.Promoted)
			afterTotal, afterMem := load.between(failed, fo.Promoted, end)
			t.Logf("timeline: killed at 0, marked failed at %v, promoted at %v; last decided in memory: other masters' keys at %v, the failed master's at %v",
				since(killed, fo.Failed), since(killed, fo.Promoted), since(killed, load.lastInMemory(healthy)), since(killed, load.lastInMemory(failed)))
			t.Logf("in memory: before the kill %d of %d; after it, other masters' keys %d of %d; the failed master's keys %d of %d until the promotion, %d of %d after it",
				beforeMem+b2Mem, before+b2, okMem, okTotal, outMem, outTotal, afterMem, afterTotal)
			t.Logf("calls to Redis that failed, over the instances: %d", failedCalls(limiters))

			assert.Zero(t, beforeMem+b2Mem, "before the kill, every decision is Redis's")
			if tt.partial {
				assert.Zero(t, okMem, "the keys of the masters that did not fail stay on Redis")
			}
			assert.Positive(t, outMem, "the failed master's keys are decided in memory until its replica is promoted")
			for group, name := range []string{"other masters' keys", "the failed master's keys"} {
				last := load.lastInMemory(group)
				assert.True(t, last.Before(deadline), "%s are back on Redis within %v of the promotion, for good (last in memory %v after it)",
					name, failoverBackWithin, last.Sub(fo.Promoted))
			}
			assert.Equal(t, map[int]int{http.StatusOK: 100, http.StatusTooManyRequests: 100},
				burst(routers, request{path: "/burst", remoteAddr: burstAddr + ":1"}, 200), "a burst on the promoted master's keys is exact")
		})
	}
}

// TestRedisSentinelFailover kills the master of a Sentinel deployment under
// load from several instances and checks that they are back on Redis for
// good soon after the Sentinel announces the new master, with an exact
// limit.
func TestRedisSentinelFailover(t *testing.T) {
	master := redistest.Start(t)
	replica := redistest.StartReplica(t, master)
	sentinel := redistest.StartSentinel(t, master, redistest.DownAfter(time.Second))
	routers, limiters := failoverRouters(t, sentinel.URL(), failoverInstances)
	clients := [][]string{make([]string, 200)}
	for i := range clients[0] {
		clients[0][i] = "198.51.100." + strconv.Itoa(i+1)
	}

	load := startFailoverLoad(routers, clients)
	killed, fo := load.failover(func() { master.Kill(t) }, func() redistest.Failover { return sentinel.WaitFailover(t, replica) })
	deadline := fo.Promoted.Add(failoverBackWithin)

	outTotal, outMem := load.between(0, killed, fo.Promoted)
	last := load.lastInMemory(0)
	t.Logf("timeline: killed at 0, down at %v, new master announced at %v; last decided in memory at %v; in memory until then %d of %d",
		since(killed, fo.Failed), since(killed, fo.Promoted), since(killed, last), outMem, outTotal)
	t.Logf("calls to Redis that failed, over the instances: %d", failedCalls(limiters))
	assert.True(t, last.Before(deadline), "back on Redis within %v of the announcement, for good (last in memory %v after it)",
		failoverBackWithin, last.Sub(fo.Promoted))
	assert.Equal(t, map[int]int{http.StatusOK: 100, http.StatusTooManyRequests: 100},
		burst(routers, request{path: "/burst", remoteAddr: "203.0.113.9:1"}, 200), "a burst on the new master is exact")
}

// since returns how long after start t was, or "never" for the zero time.
func since(start, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.Sub(start).Round(10 * time.Millisecond).String()
}

// TestRedisClusterWhollyDown checks that a cluster none of whose nodes
// answers is a whole-backend outage, as for a single server: the breaker
// opens, the hook is called, and health says memory with its fixed message,
// not a partial outage; and that the Limiter returns to Redis when the
// nodes are back.
func TestRedisClusterWhollyDown(t *testing.T) {
	cluster := redistest.StartCluster(t)
	var hook hookRecorder
	l := redisLimiter(t, cluster.URL(), true, ginlimit.WithRedisTimeout(500*time.Millisecond),
		ginlimit.WithOnFallbackChange(hook.hook))
	r := newRouter(l)
	for _, n := range cluster.Nodes {
		n.Kill(t)
	}
	require.Eventually(t, func() bool {
		for i := range 20 {
			serve(r, request{remoteAddr: "198.51.100." + strconv.Itoa(i+1) + ":1"})
		}
		return l.Status().Backend == "memory"
	}, 10*time.Second, 50*time.Millisecond, "the whole backend is down")
	s := l.Status()
	assert.Equal(t, ginlimit.MessageMemory, s.Message)
	assert.Contains(t, []string{"open", "half-open"}, s.Breaker)
	assert.Equal(t, []bool{true}, hook.get())

	for _, n := range cluster.Nodes {
		n.Restart(t)
	}
	require.Eventually(t, func() bool {
		for i := range 20 {
			serve(r, request{remoteAddr: "198.51.100." + strconv.Itoa(i+1) + ":1"})
		}
		s := l.Status()
		return s.Backend == "redis" && s.DegradedSlots == 0
	}, 20*time.Second, 50*time.Millisecond, "back on Redis, every slot")
	assert.Equal(t, []bool{true, false}, hook.get())
	assert.Equal(t, ginlimit.MessageRedis, l.Status().Message)
}
