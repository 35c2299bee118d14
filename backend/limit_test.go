package backend_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ginlimit/ginlimit/backend"
)

func TestParseLimits(t *testing.T) {
	tests := []struct {
		give string
		want []backend.Limit
	}{
		{give: "10/second", want: []backend.Limit{{Count: 10, Period: time.Second}}},
		{give: "100 per minute", want: []backend.Limit{{Count: 100, Period: time.Minute}}},
		{give: "500 per 7 days", want: []backend.Limit{{Count: 500, Period: 7 * backend.Day}}},
		{give: "500/7days", want: []backend.Limit{{Count: 500, Period: 7 * backend.Day}}},
		{give: "1/Hour", want: []backend.Limit{{Count: 1, Period: time.Hour}}},
		{give: "3 PER 2 MONTHS", want: []backend.Limit{{Count: 3, Period: 60 * backend.Day}}},
		{give: "1/year", want: []backend.Limit{{Count: 1, Period: 360 * backend.Day}}},
		{give: "5per10seconds", want: []backend.Limit{{Count: 5, Period: 10 * time.Second}}},
		{
			give: "10/second;100/minute;1000/hour",
			want: []backend.Limit{{10, time.Second}, {100, time.Minute}, {1000, time.Hour}},
		},
		{give: " 1/second , 2/minute | 3/hour ", want: []backend.Limit{{1, time.Second}, {2, time.Minute}, {3, time.Hour}}},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			got, err := backend.ParseLimits(tt.give)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParseLimitsErrors(t *testing.T) {
	tests := []struct {
		give string
		want string // a part of the error message
	}{
		{give: "", want: "empty limits string"},
		{give: " ;; ", want: `limit 1 of " ;; " is empty`},
		{give: "10/minute;;", want: `limit 2 of "10/minute;;" is empty (separate limits with one ';', ',' or '|'`},
		{give: "10/minute;", want: `limit 2 of "10/minute;" is empty`},
		{give: ",10/minute", want: `limit 1 of ",10/minute" is empty`},
		{give: "10/minute; |100/hour", want: `limit 2 of "10/minute; |100/hour" is empty`},
		{give: "abc", want: `"abc": it does not start with a count`},
		{give: "10", want: `not followed by "/" or "per"`},
		{give: "10 minute", want: `not followed by "/" or "per"`},
		{give: "10 perminute", want: `not followed by "/" or "per"`},
		{give: "10/fortnight", want: `unknown unit "fortnight"`},
		{give: "10/", want: `unknown unit ""`},
		{give: "10/0 seconds", want: "multiplier must be a positive whole number"},
		{give: "0/second", want: "count 0 is outside"},
		{give: "-1/second", want: "does not start with a count"},
		{give: "99999999999999999999/second", want: "count must be at most"},
		{give: "1000000001/second", want: "count must be at most"},
		{give: "1/11 years", want: "period must be at most"},
		{give: "1/99999999999999999999 years", want: "multiplier must be a positive whole number"},
		{give: "1/minute;2/minute", want: "same period"},
		{give: "1/s;2/m;3/h;4/d;5/w;6/x;7/y;8/z;9/q", want: "unknown unit"},
		{give: "1/1s;2/2s;3/3s;4/4s;5/5s;6/6s;7/7s;8/8s;9/9s", want: "unknown unit"},
		{give: "1/1 second;2/2 seconds;3/3 seconds;4/4 seconds;5/5 seconds;6/6 seconds;7/7 seconds;8/8 seconds;9/9 seconds", want: "9 limits, at most 8"},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			_, err := backend.ParseLimits(tt.give)
			require.Error(t, err)
			assert.True(t, errors.Is(err, backend.ErrInvalidLimit), "errors.Is(%v, ErrInvalidLimit)", err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestLimitString(t *testing.T) {
	tests := []struct {
		give backend.Limit
		want string
	}{
		{give: backend.Limit{Count: 10, Period: time.Second}, want: "10/second"},
		{give: backend.Limit{Count: 100, Period: time.Minute}, want: "100/minute"},
		{give: backend.Limit{Count: 100, Period: 90 * time.Second}, want: "100/90 seconds"},
		{give: backend.Limit{Count: 500, Period: 7 * backend.Day}, want: "500/7 days"},
		{give: backend.Limit{Count: 1, Period: backend.Month}, want: "1/month"},
		{give: backend.Limit{Count: 1, Period: backend.Year}, want: "1/year"},
		{give: backend.Limit{Count: 1, Period: 2 * backend.Year}, want: "1/2 years"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.give.String())
			back, err := backend.ParseLimits(tt.give.String())
			require.NoError(t, err)
			assert.Equal(t, []backend.Limit{tt.give}, back)
		})
	}
}

func TestFormatLimits(t *testing.T) {
	limits, err := backend.ParseLimits("10 per second | 100 per 2 hours")
	require.NoError(t, err)
	assert.Equal(t, "10/second;100/2 hours", backend.FormatLimits(limits))
}

func TestPolicyValidate(t *testing.T) {
	ok := []backend.Limit{{Count: 1, Period: time.Second}}
	tests := []struct {
		name string
		give backend.Policy
		want string
	}{
		{name: "valid", give: backend.Policy{Strategy: backend.TokenBucket, Limits: ok}},
		{name: "unknown strategy", give: backend.Policy{Strategy: 9, Limits: ok}, want: "unknown strategy 9"},
		{name: "no limits", give: backend.Policy{}, want: "no limits"},
		{name: "sub-second period", give: backend.Policy{Limits: []backend.Limit{{Count: 1, Period: 1500 * time.Millisecond}}}, want: "not a whole number of seconds"},
		{name: "short period", give: backend.Policy{Limits: []backend.Limit{{Count: 1, Period: time.Millisecond}}}, want: "outside 1s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.give.Validate()
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, backend.ErrInvalidPolicy)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestStrategy(t *testing.T) {
	for _, s := range []backend.Strategy{backend.SlidingWindow, backend.FixedWindow, backend.TokenBucket} {
		got, err := backend.ParseStrategy(s.String())
		require.NoError(t, err)
		assert.Equal(t, s, got)
	}
	got, err := backend.ParseStrategy("Token-Bucket")
	require.NoError(t, err)
	assert.Equal(t, backend.TokenBucket, got)
	_, err = backend.ParseStrategy("leaky")
	require.ErrorIs(t, err, backend.ErrInvalidPolicy)
	assert.Contains(t, err.Error(), `unknown strategy "leaky" (want sliding-window, fixed-window, token-bucket)`)
	assert.Equal(t, "Strategy(7)", backend.Strategy(7).String())
}

// FuzzParseLimits checks that the parser never panics and that every limit it
// accepts prints as a string that parses back to the same limits.
func FuzzParseLimits(f *testing.F) {
	for _, s := range []string{"10/second", "100 per minute;1000/hour", "500 per 7 days", "1/2 years", "10/minute;;", "3|4", "x/y", "9 per 99999999999 seconds"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		limits, err := backend.ParseLimits(s)
		if err != nil {
			if !errors.Is(err, backend.ErrInvalidLimit) {
				t.Fatalf("ParseLimits(%q) error %v does not wrap ErrInvalidLimit", s, err)
			}
			return
		}
		if separators := strings.Count(s, ";") + strings.Count(s, ",") + strings.Count(s, "|"); separators != len(limits)-1 {
			t.Fatalf("ParseLimits(%q) = %v, from %d separators: an item was dropped", s, limits, separators)
		}
		text := backend.FormatLimits(limits)
		back, err := backend.ParseLimits(text)
		if err != nil {
			t.Fatalf("ParseLimits(%q) = %v; reading back %q: %v", s, limits, text, err)
		}
		if len(back) != len(limits) {
			t.Fatalf("round trip of %q: got %v, want %v", s, back, limits)
		}
		for i := range back {
			if back[i] != limits[i] {
				t.Fatalf("round trip of %q: got %v, want %v", s, back, limits)
			}
		}
	})
}
