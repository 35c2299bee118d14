package memory_test

import (
	"context"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
)

// BenchmarkAllow measures decisions for keys the store holds, from parallel
// goroutines spread over many distinct keys, with the real clock. The keys are
// added in one order and asked for in another, shuffled, as clients come: a
// walk in the order of insertion would let the processor prefetch entries a
// real server finds scattered.
func BenchmarkAllow(b *testing.B) {
	const nkeys = 1 << 14
	keys := make([]string, nkeys)
	distinct := make(map[string]struct{}, nkeys)
	for i := range keys {
		keys[i] = "203.0.113." + strconv.Itoa(i%256) + ":" + strconv.Itoa(i/256)
		distinct[keys[i]] = struct{}{}
	}
	if len(distinct) != nkeys {
		b.Fatalf("%d distinct keys, want %d", len(distinct), nkeys)
	}
	shuffled := slices.Clone(keys)
	rand.New(rand.NewPCG(1, 2)).Shuffle(nkeys, func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })

	for _, strategy := range strategies {
		b.Run(strategy.String(), func(b *testing.B) {
			s := newStore(b)
			p := policy(b, strategy, "1000000000/hour")
			ctx := context.Background()
			for _, key := range keys {
				if _, err := s.Allow(ctx, key, p, 1); err != nil {
					b.Fatal(err)
				}
			}

			var goroutines, denied atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				// Each goroutine walks the keys from its own offset.
				i := int(goroutines.Add(1)) * 7919
				for pb.Next() {
					r, err := s.Allow(ctx, shuffled[i%nkeys], p, 1)
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
			b.ReportMetric(0, "denied/op")
		})
	}
}
