package httplimit

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/ginlimit/ginlimit/backend"
)

// TestLegacyTextRemaining checks X-RateLimit-Remaining's text on both sides
// of the cached range, for a count within it and one beyond.
func TestLegacyTextRemaining(t *testing.T) {
	tests := []struct {
		count int64
		give  []int64
	}{
		{count: 10, give: []int64{0, 1, 9, 10}},
		{count: 1024, give: []int64{0, 1023, 1024}},
		{count: 5000, give: []int64{0, 3975, 3976, 3977, 4999, 5000}},
		{count: backend.MaxCount, give: []int64{0, 7, backend.MaxCount - 1025, backend.MaxCount - 1024, backend.MaxCount}},
	}
	for _, tt := range tests {
		s := newScope("ginlimit", "default", "default", backend.Policy{
			Strategy: backend.FixedWindow,
			Limits:   []backend.Limit{{Count: tt.count, Period: time.Minute}},
		}, 0, maxCachedRemaining)
		for _, remaining := range tt.give {
			got, reset := s.legacyText(0, remaining, 1700000000)
			assert.Equal(t, strconv.FormatInt(remaining, 10), got, "count %d", tt.count)
			assert.Equal(t, "1700000000", reset)
		}
		assert.LessOrEqual(t, len(s.remaining[0]), maxCachedRemaining+1, "count %d", tt.count)
	}
}
