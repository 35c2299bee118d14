package redis_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/ginlimit/ginlimit/backend"
	"github.com/ginlimit/ginlimit/backend/redis"
	"github.com/ginlimit/ginlimit/internal/redistest"
)

var strategies = []backend.Strategy{backend.FixedWindow, backend.SlidingWindow, backend.TokenBucket}

// scriptCommands are the commands decide.lua calls inside Redis; INFO
// commandstats counts them with the client's own.
var scriptCommands = map[string]bool{"time": true, "hmget": true, "hset": true, "pexpire": true}

// reportCommands reports, per decision, the commands the client sent
// (trips/op: EVALSHA, and HGET to watch a denied key) and every command Redis
// ran, the script's included (cmds/op), from INFO commandstats.
func reportCommands(b *testing.B, srv *redistest.Server) {
	b.Helper()
	var sent, ran int64
	for name, calls := range srv.CommandCalls(b) {
		if name == "info" || name == "config|resetstat" {
			continue
		}
		ran += calls
		if !scriptCommands[name] {
			sent += calls
		}
	}
	b.ReportMetric(float64(sent)/float64(b.N), "trips/op")
	b.ReportMetric(float64(ran)/float64(b.N), "cmds/op")
}

// BenchmarkAllowAdmitted measures admitted decisions over 16,384 distinct
// keys from 64 goroutines a core, on a local redis-server: the client's
// auto-pipelining carries many decisions per round trip.
func BenchmarkAllowAdmitted(b *testing.B) {
	srv := redistest.Start(b)
	client := newClient(b, srv.URL(), true)
	const nkeys = 1 << 14
	keys := make([]string, nkeys)
	for i := range keys {
		keys[i] = "bench:203.0.113." + strconv.Itoa(i%256) + ":" + strconv.Itoa(i/256)
	}
	for _, strategy := range strategies {
		b.Run(strategy.String(), func(b *testing.B) {
			s := newStore(b, client)
			p := policy(b, strategy, "1000000000/hour")
			var goroutines, denied atomic.Int64
			srv.ResetStats(b)
			b.SetParallelism(64)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := int(goroutines.Add(1)) * 7919
				for pb.Next() {
					r, err := s.Allow(context.Background(), keys[i%nkeys], p, 1)
					if err != nil || !r.Allowed {
						denied.Add(1)
					}
					i++
				}
			})
			b.StopTimer()
			if n := denied.Load(); n > 0 {
				b.Fatalf("%d of %d requests denied or failed, want all admitted", n, b.N)
			}
			reportCommands(b, srv)
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
			var admitted atomic.Int64
			srv.ResetStats(b)
			b.SetParallelism(64)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					r, err := s.Allow(ctx, "bench:over-"+mode.name, p, 1)
					if err != nil || r.Allowed {
						admitted.Add(1)
					}
				}
			})
			b.StopTimer()
			if n := admitted.Load(); n > 0 {
				b.Fatalf("%d of %d requests admitted or failed, want all denied", n, b.N)
			}
			reportCommands(b, srv)
		})
	}
}
