package httplimit

import (
	"fmt"
	"math/bits"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ginlimit/ginlimit/backend"
)

// Headers selects the rate-limit headers set on every limited response.
type Headers uint8

const (
	// HeadersLegacy sets X-RateLimit-Limit, X-RateLimit-Remaining and
	// X-RateLimit-Reset (Unix epoch seconds), describing the limit closest to
	// exhaustion. It is the default.
	HeadersLegacy Headers = iota
	// HeadersIETF sets RateLimit-Policy and RateLimit as structured-field
	// lists (draft-ietf-httpapi-ratelimit-headers), one item per limit.
	HeadersIETF
	// HeadersBoth sets both sets.
	HeadersBoth
	// HeadersNone sets neither. A denied request still gets Retry-After.
	HeadersNone
)

var headerModeNames = [...]string{"legacy", "ietf", "both", "none"}

// String returns "legacy", "ietf", "both" or "none".
func (h Headers) String() string {
	if int(h) < len(headerModeNames) {
		return headerModeNames[h]
	}
	return fmt.Sprintf("Headers(%d)", uint8(h))
}

// ParseHeaders reads a header mode as String returns it.
func ParseHeaders(s string) (Headers, error) {
	for h, name := range headerModeNames {
		if strings.EqualFold(s, name) {
			return Headers(h), nil
		}
	}
	return 0, fmt.Errorf("unknown header mode %q (want %s)", s, strings.Join(headerModeNames[:], ", "))
}

// Header names in canonical form, so that setting them allocates no key.
const (
	hdrLimit      = "X-Ratelimit-Limit"
	hdrRemaining  = "X-Ratelimit-Remaining"
	hdrReset      = "X-Ratelimit-Reset"
	hdrPolicy     = "Ratelimit-Policy"
	hdrRateLimit  = "Ratelimit"
	hdrRetryAfter = "Retry-After"
)

// scope is what the headers and keys of one named policy need, computed once.
type scope struct {
	name          string
	keyPrefix     string          // "<prefix>:<name>:"
	limits        []backend.Limit // the policy's limits
	fallback      *scope          // the scope of the fallback limits; itself when they are the same
	counts        []string        // X-RateLimit-Limit value per limit
	remaining     [][]string      // formatted X-RateLimit-Remaining values per limit, from remainingFrom
	remainingFrom []int64
	policy        string   // RateLimit-Policy value
	items         []string // quoted IETF item name per limit
	hidden        uint8    // bit i: limit i is counted, never shown
	first         int      // the first limit shown

	// sharedReset is set for sliding windows, which are aligned to the clock:
	// every key's window ends at the same time, so the last reset text is
	// kept in reset. Other strategies' resets differ per key.
	sharedReset bool
	reset       atomic.Pointer[epoch]
}

// maxCachedRemaining is how many X-RateLimit-Remaining values of a limit a
// scope keeps formatted, sparing an allocation per response: all of them for
// a Count up to it, and otherwise the highest ones, those of clients that
// have used little of their limit, as most have.
const maxCachedRemaining = 1024

// epoch is an X-RateLimit-Reset value and its text.
type epoch struct {
	sec  int64
	text string
}

// newScope returns the scope of the policy p named name, counted in the
// namespace space of the Limiter's prefix. The limits of p marked in hidden
// (bit i for limit i) are counted and never shown: they are the periods that
// other plans have (see plans.go). cached bounds the Remaining values kept
// formatted per limit (maxCachedRemaining, or fewer for a per-request
// policy).
func newScope(keyPrefix, space, name string, p backend.Policy, hidden uint8, cached int64) *scope {
	limits := p.Limits
	s := &scope{
		name:          name,
		keyPrefix:     keyPrefix + ":" + space + ":",
		limits:        limits,
		hidden:        hidden,
		counts:        make([]string, len(limits)),
		remaining:     make([][]string, len(limits)),
		remainingFrom: make([]int64, len(limits)),
		items:         make([]string, len(limits)),
		sharedReset:   p.Strategy == backend.SlidingWindow,
	}
	for s.hidden&(1<<s.first) != 0 {
		s.first++
	}
	var policies []string
	for i, l := range limits {
		if s.isHidden(i) {
			continue
		}
		s.counts[i] = strconv.FormatInt(l.Count, 10)
		from := max(0, l.Count-cached)
		s.remainingFrom[i] = from
		s.remaining[i] = make([]string, l.Count-from+1)
		for n := range s.remaining[i] {
			s.remaining[i][n] = strconv.FormatInt(from+int64(n), 10)
		}
		item := name
		if len(limits) > bits.OnesCount8(hidden)+1 {
			// "default-minute", "default-7days": distinct names per limit.
			_, unit, _ := strings.Cut(l.String(), "/")
			item += "-" + strings.ReplaceAll(unit, " ", "")
		}
		s.items[i] = sfString(item)
		policies = append(policies, s.items[i]+";q="+s.counts[i]+";w="+strconv.FormatInt(int64(l.Period/time.Second), 10))
	}
	s.policy = strings.Join(policies, ", ")
	return s
}

// sfString quotes s as a structured-field string (RFC 9651): printable ASCII
// only, with quote and backslash escaped; anything else becomes '_'.
func sfString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < ' ' || c > '~':
			b.WriteByte('_')
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// legacyText formats X-RateLimit-Remaining and X-RateLimit-Reset with at
// most one allocation: the values are cached when they can be, and otherwise
// formatted into one string that both are cut from.
func (s *scope) legacyText(i int, remaining, reset int64) (remainingText, resetText string) {
	resetText, resetCached := s.cachedReset(reset)
	if k := remaining - s.remainingFrom[i]; k >= 0 && k < int64(len(s.remaining[i])) {
		if !resetCached {
			resetText = s.keepReset(reset, strconv.FormatInt(reset, 10))
		}
		return s.remaining[i][k], resetText
	}
	if resetCached {
		return strconv.FormatInt(remaining, 10), resetText
	}
	var buf [40]byte
	b := strconv.AppendInt(buf[:0], remaining, 10)
	cut := len(b)
	b = strconv.AppendInt(b, reset, 10)
	both := string(b)
	return both[:cut], s.keepReset(reset, both[cut:])
}

// cachedReset returns the text of an X-RateLimit-Reset value if the scope
// keeps it.
func (s *scope) cachedReset(sec int64) (string, bool) {
	if !s.sharedReset {
		return "", false
	}
	if e := s.reset.Load(); e != nil && e.sec == sec {
		return e.text, true
	}
	return "", false
}

// keepReset remembers text as the last reset, when resets are shared, and
// returns it.
func (s *scope) keepReset(sec int64, text string) string {
	if s.sharedReset {
		s.reset.Store(&epoch{sec: sec, text: text})
	}
	return text
}

// isHidden reports whether limit i is counted and never shown.
func (s *scope) isHidden(i int) bool { return s.hidden&(1<<i) != 0 }

// tightest returns the index of the shown limit closest to exhaustion: the
// fewest remaining, and of those the longest until reset.
func tightest(res *backend.Result, s *scope) int {
	best := s.first
	for i := best + 1; i < len(s.limits); i++ {
		if s.isHidden(i) {
			continue
		}
		a, b := res.States[i], res.States[best]
		if a.Remaining < b.Remaining || a.Remaining == b.Remaining && a.Reset > b.Reset {
			best = i
		}
	}
	return best
}

// writeHeaders sets the rate-limit headers of mode on h for a request of
// cost. On a denial, each limit that denied the request (fewer remaining than
// cost) reports the Retry-After as its reset: that is when the client can
// next send the request, and a client that waits for the reset then never
// comes back too soon (a sliding window's current window can end before
// enough of the previous one has slid out) nor later than it needs to (a
// token bucket is refilled enough long before it is full).
func writeHeaders(h http.Header, mode Headers, s *scope, res *backend.Result, cost int64) {
	n := len(s.counts)
	retryAfter := int64(-1) // no limit denied
	if !res.Allowed {
		retryAfter = retryAfterSeconds(res.RetryAfter)
	}
	if mode == HeadersLegacy || mode == HeadersBoth {
		i := tightest(res, s)
		st := res.States[i]
		resetIn := int64(st.Reset)
		if retryAfter >= 0 && st.Remaining < cost {
			resetIn = retryAfter * int64(time.Second)
		}
		reset := (res.Now.UnixNano() + resetIn + int64(time.Second) - 1) / int64(time.Second)
		values := make([]string, 3) // one allocation for the three header slices
		values[0] = s.counts[i]
		values[1], values[2] = s.legacyText(i, st.Remaining, reset)
		h[hdrLimit] = values[0:1:1]
		h[hdrRemaining] = values[1:2:2]
		h[hdrReset] = values[2:3:3]
	}
	if mode == HeadersIETF || mode == HeadersBoth {
		var buf [256]byte
		b := buf[:0]
		for i := 0; i < n; i++ {
			if s.isHidden(i) {
				continue
			}
			if len(b) > 0 {
				b = append(b, ", "...)
			}
			st := res.States[i]
			t := ceilSeconds(st.Reset)
			if retryAfter >= 0 && st.Remaining < cost {
				t = retryAfter
			}
			b = append(b, s.items[i]...)
			b = append(b, ";r="...)
			b = strconv.AppendInt(b, st.Remaining, 10)
			b = append(b, ";t="...)
			b = strconv.AppendInt(b, t, 10)
		}
		values := make([]string, 2)
		values[0] = s.policy
		values[1] = string(b)
		h[hdrPolicy] = values[0:1:1]
		h[hdrRateLimit] = values[1:2:2]
	}
}

// retryAfterSeconds is the Retry-After of a denial: d rounded up to whole
// seconds, and at least 1, so that a client never retries at once.
func retryAfterSeconds(d time.Duration) int64 {
	return max(ceilSeconds(d), 1)
}

// ceilSeconds rounds d up to whole seconds.
func ceilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Second - 1) / time.Second)
}
