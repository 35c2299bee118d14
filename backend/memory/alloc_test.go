package memory_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ginlimit/ginlimit/backend"
	"github.com/ginlimit/ginlimit/backend/memory"
)

func TestAllowDoesNotAllocateForHeldKey(t *testing.T) {
	tests := []struct {
		name string
		give string
	}{
		{name: "Admitted", give: "1000000000/hour;100000000/minute"},
		{name: "Denied", give: "1/hour;5/minute"},
	}
	for _, strategy := range strategies {
		for _, tt := range tests {
			t.Run(strategy.String()+"/"+tt.name, func(t *testing.T) {
				s := newStore(t)
				p := policy(t, strategy, tt.give)
				ctx := context.Background()
				_, err := s.Allow(ctx, "k", p, 1)
				require.NoError(t, err)

				allocs := testing.AllocsPerRun(1000, func() {
					if _, err := s.Allow(ctx, "k", p, 1); err != nil {
						panic(err)
					}
				})
				assert.Zero(t, allocs)
			})
		}
	}
}

// TestEvictionReusesEntries checks that adding a key to a full store reuses
// the evicted entry's slot: the store keeps no key strings, so nothing is
// allocated per new key.
func TestEvictionReusesEntries(t *testing.T) {
	const runs = 1000
	s := newStore(t, memory.WithMaxKeys(64))
	p := policy(t, backend.TokenBucket, "5/minute;100/hour")
	keys := make([]string, 2*runs+1)
	for i := range keys {
		keys[i] = "key:" + strconv.Itoa(i)
	}
	ctx := context.Background()
	for _, key := range keys[:runs] {
		_, err := s.Allow(ctx, key, p, 1)
		require.NoError(t, err)
	}

	next := runs
	allocs := testing.AllocsPerRun(runs, func() {
		if _, err := s.Allow(ctx, keys[next], p, 1); err != nil {
			panic(err)
		}
		next++
	})
	assert.LessOrEqual(t, allocs, 1.0)
}
