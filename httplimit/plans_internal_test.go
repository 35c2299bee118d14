package httplimit

import (
	"fmt"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOverridesAreBounded gives one policy more distinct per-request limits
// than it keeps: each is still counted by its own limits, and the policy
// keeps at most maxOverrides.
func TestOverridesAreBounded(t *testing.T) {
	l, err := New(WithLimits("10/minute"), WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(t, err)
	defer l.Close()
	p := l.Default()
	for i := range maxOverrides + 50 {
		limits := fmt.Sprintf("%d/minute", 100+i)
		q := p.Override(limits)
		require.NotSame(t, p, q)
		assert.Equal(t, int64(100+i), q.policy.Limits[0].Count)
		assert.Same(t, q, p.Override(limits), "kept: parsed once")
		assert.LessOrEqual(t, p.nOverride.Load(), int64(maxOverrides))
	}
	n := 0
	p.overrides.Range(func(any, any) bool { n++; return true })
	assert.Equal(t, maxOverrides, n)
	assert.Same(t, p, p.Override(""))
}
