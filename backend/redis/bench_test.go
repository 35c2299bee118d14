package redis_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/ginlimit/ginlimit/backend"
	"github.com/ginlimit/ginlimit/backend/redis"
	"github.com/ginlimit/ginlimit/internal/redistest"
)

var strategies = []backend.Strategy{backend.FixedWindow, backend.SlidingWindow, backend.TokenBucket}

// scriptCommands are the commands decide.lua calls inside Redis; INFO
// commandstats counts them with the client's own.
var scriptCommands = map[string]bool{"time": true, "hmget": true, "hset": true, "pexpire": true,
	"get": true, "mget": true, "set": true, "incrby": true, "pttl": true}

// reportCommands reports, per decision, the commands the client sent
// (trips/op: EVALSHA, and HGET to watch a denied key), every command Redis
// ran, the script's included (cmds/op), from INFO commandstats, and the
// Redis CPU a decision costs: the time of the commands the client sent, the
// scripts' inner commands included (redis-µs/op, from INFO commandstats), and
// the whole server's processor time since cpu0, network included
// (cpu-µs/op, from INFO cpu). On a shared Redis these two decide how many
// decisions it serves.
func reportCommands(b *testing.B, srv *redistest.Server, cpu0 time.Duration) {
	b.Helper()
	cpu := srv.CPU(b) - cpu0
	times := srv.CommandTime(b)
	var sent, ran int64
	var spent time.Duration
	for name, calls := range srv.CommandCalls(b) {
		if name == "info" || name == "config|resetstat" {
			continue
		}
		ran += calls
		if !scriptCommands[name] {
			sent += calls
			spent += times[name]
		}
	}
	n := float64(b.N)
	b.ReportMetric(float64(sent)/n, "trips/op")
	b.ReportMetric(float64(ran)/n, "cmds/op")
	b.ReportMetric(float64(spent)/float64(time.Microsecond)/n, "redis-µs/op")
	b.ReportMetric(float64(cpu)/float64(time.Microsecond)/n, "cpu-µs/op")
}

// measure runs op from 64 goroutines a core, after resetting srv's
// statistics, and reports the commands and the Redis CPU of each op. Each
// goroutine passes op a counter of its own, starting far from the others'.
// op reports false for a failure or an outcome other than want, which fails
// the benchmark.
func measure(b *testing.B, srv *redistest.Server, want string, op func(i int) bool) {
	b.Helper()
	var goroutines, unexpected atomic.Int64
	srv.ResetStats(b)
	cpu0 := srv.CPU(b)
	b.SetParallelism(64)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := int(goroutines.Add(1)) * 7919
		for pb.Next() {
			if !op(i) {
				unexpected.Add(1)
			}
			i++
		}
	})
	b.StopTimer()
	if n := unexpected.Load(); n > 0 {
		b.Fatalf("%d of %d operations failed or were not %s", n, b.N, want)
	}
	reportCommands(b, srv, cpu0)
}

// manyKeys returns 16,384 distinct keys that start with prefix.
func manyKeys(prefix string) []string {
	keys := make([]string, 1<<14)
	for i := range keys {
		keys[i] = prefix + "203.0.113." + strconv.Itoa(i%256) + ":" + strconv.Itoa(i/256)
	}
	return keys
}

// BenchmarkAllowAdmitted measures admitted decisions over 16,384 distinct
// keys from 64 goroutines a core, on a local redis-server: the client's
// auto-pipelining carries many decisions per round trip.
func BenchmarkAllowAdmitted(b *testing.B) {
	srv := redistest.Start(b)
	client := newClient(b, srv.URL(), true)
	keys := manyKeys("bench:")
	for _, strategy := range strategies {
		b.Run(strategy.String(), func(b *testing.B) {
			s := newStore(b, client)
			p := policy(b, strategy, "1000000000/hour")
			measure(b, srv, "admitted", func(i int) bool {
				r, err := s.Allow(context.Background(), keys[i%len(keys)], p, 1)
				return err == nil && r.Allowed
			})
		})
	}
}

// BenchmarkAllowDenied floods one key over its limit from 64 goroutines a
// core: with client-side caching, nearly every decision is made locally.
func BenchmarkAllowDenied(b *testing.B) {
	srv := redistest.Start(b)
	for _, mode := range []struct {
		name     string
		newStore func(b *testing.B) *redis.Store
	}{
		{"client-cache", func(b *testing.B) *redis.Store { return newStore(b, newClient(b, srv.URL(), true)) }},
		{"client-cache-tracker", func(b *testing.B) *redis.Store { return newTrackedStore(b, srv.URL()) }},
		{"script-only", func(b *testing.B) *redis.Store {
			return newStore(b, newClient(b, srv.URL(), false), redis.WithClientCache(false))
		}},
	} {
		b.Run(mode.name, func(b *testing.B) {
			s := mode.newStore(b)
			p := policy(b, backend.FixedWindow, "10/hour")
			ctx := context.Background()
			for range 10 {
				if _, err := s.Allow(ctx, "bench:over-"+mode.name, p, 1); err != nil {
					b.Fatal(err)
				}
			}
			measure(b, srv, "denied", func(int) bool {
				r, err := s.Allow(ctx, "bench:over-"+mode.name, p, 1)
				return err == nil && !r.Allowed
			})
		})
	}
}

// floorScripts are yardsticks of BenchmarkAllowAdmitted's redis-µs/op: what
// a script costs Redis before it decides anything. Each takes a decision's
// key and arguments; all but counter return a reply as long as a decision's.
var floorScripts = []struct{ name, src string }{
	// The least a fixed window can cost: one counter incremented by every
	// request, denials included, with PEXPIRE at the first request of a
	// window and PTTL after.
	{"counter", `local c = redis.call("INCRBY", KEYS[1], ARGV[2])
if c == tonumber(ARGV[2]) then
  redis.call("PEXPIRE", KEYS[1], 3600000)
  return {c, 3600000}
end
return {c, redis.call("PTTL", KEYS[1])}`},
	// The call alone: the arguments in, the reply out.
	{"reply-only", `return {1, 0, 1, 2, 3, 4}`},
	// Reading a count before writing it, so that a denial writes nothing,
	// with a string and with a hash; no arithmetic but the increment.
	{"get-set", `local c = tonumber(redis.call("GET", KEYS[1])) or 0
redis.call("SET", KEYS[1], c + 1)
return {1, 0, 1, 2, 3, 4}`},
	{"hmget-hset", `local s = redis.call("HMGET", KEYS[1], "e", "a1", "c1")
redis.call("HSET", KEYS[1], "c1", (tonumber(s[3]) or 0) + 1)
return {1, 0, 1, 2, 3, 4}`},
}

// BenchmarkScriptFloor runs each of floorScripts as BenchmarkAllowAdmitted
// runs the decisions: the same keys, arguments, client and goroutines.
func BenchmarkScriptFloor(b *testing.B) {
	srv := redistest.Start(b)
	client := newClient(b, srv.URL(), true)
	args := []string{"1", "1", "0", "1000000000", "3600000000"}
	for _, f := range floorScripts {
		b.Run(f.name, func(b *testing.B) {
			script := rueidis.NewLuaScript(f.src)
			keys := manyKeys("bench:floor:" + f.name + ":")
			measure(b, srv, "run", func(i int) bool {
				return script.Exec(context.Background(), client, []string{keys[i%len(keys)]}, args).Error() == nil
			})
		})
	}
}

// BenchmarkAllowHotKey sends every decision, from 64 goroutines a core, for
// one key that never reaches its limit: concurrent decisions of the key are
// coalesced (see Store.Allow), so trips/op is well below one.
func BenchmarkAllowHotKey(b *testing.B) {
	srv := redistest.Start(b)
	client := newClient(b, srv.URL(), true)
	for _, strategy := range strategies {
		b.Run(strategy.String(), func(b *testing.B) {
			s := newStore(b, client)
			p := policy(b, strategy, "1000000000/hour")
			key := "bench:hot:" + strategy.String()
			measure(b, srv, "admitted", func(int) bool {
				r, err := s.Allow(context.Background(), key, p, 1)
				return err == nil && r.Allowed
			})
		})
	}
}
