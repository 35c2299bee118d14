package backend

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Bounds on a Limit. They keep every strategy's arithmetic exact in int64
// nanoseconds: a token bucket's emission interval (Period/Count) is at least
// one nanosecond, and cost x interval never overflows.
const (
	MaxCount  = 1_000_000_000
	MinPeriod = time.Second
	MaxPeriod = 10 * Year
)

// Units of the limits notation. A month is 30 days and a year 360 days, as in
// the notation's other implementations.
const (
	Day   = 24 * time.Hour
	Month = 30 * Day
	Year  = 360 * Day
)

// Limit admits Count units per Period.
type Limit struct {
	Count  int64
	Period time.Duration
}

// units lists the notation's units, largest first, so that String picks the
// largest one that divides a period evenly.
var units = [...]struct {
	name string
	d    time.Duration
}{
	{"year", Year},
	{"month", Month},
	{"day", Day},
	{"hour", time.Hour},
	{"minute", time.Minute},
	{"second", time.Second},
}

// String returns the limit in the notation ParseLimits reads, such as
// "100/minute" or "500/7 days".
func (l Limit) String() string {
	count := strconv.FormatInt(l.Count, 10)
	for _, u := range units {
		if l.Period%u.d != 0 {
			continue
		}
		n := int64(l.Period / u.d)
		if n == 1 {
			return count + "/" + u.name
		}
		return count + "/" + strconv.FormatInt(n, 10) + " " + u.name + "s"
	}
	return count + "/" + l.Period.String()
}

// Validate reports whether l is within the bounds above.
func (l Limit) Validate() error {
	switch {
	case l.Count < 1 || l.Count > MaxCount:
		return fmt.Errorf("%w: count %d is outside 1..%d", ErrInvalidLimit, l.Count, MaxCount)
	case l.Period < MinPeriod || l.Period > MaxPeriod:
		return fmt.Errorf("%w: period %v is outside %v..%v", ErrInvalidLimit, l.Period, MinPeriod, MaxPeriod)
	case l.Period%time.Second != 0:
		return fmt.Errorf("%w: period %v is not a whole number of seconds", ErrInvalidLimit, l.Period)
	}
	return nil
}

// ParseLimits reads one or more limits in the notation
// "[count] [per|/] [n] [unit]", separated by ";", "," or "|":
//
//	10/second
//	100 per minute; 1000/hour
//	500 per 7 days
//
// Units are second, minute, hour, day, month (30 days) and year (360 days),
// singular or plural, in any case. At most MaxLimits limits are allowed, and no
// two of them may have the same period. Spaces around a limit are ignored, but
// nothing else is: an empty limit, as in "10/minute;;" or "10/minute;", is an
// error, so that a limit lost in editing is never taken for none.
func ParseLimits(s string) ([]Limit, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("%w: empty limits string", ErrInvalidLimit)
	}
	var limits []Limit
	items := 0
	for rest := s; ; {
		item, after, more := cutLimit(rest)
		items++
		if strings.TrimSpace(item) == "" {
			return nil, fmt.Errorf("%w: limit %d of %q is empty (separate limits with one ';', ',' or '|', as in \"100/minute;1000/hour\")",
				ErrInvalidLimit, items, s)
		}
		l, err := parseLimit(item)
		if err != nil {
			return nil, err
		}
		limits = append(limits, l)
		if !more {
			break
		}
		rest = after
	}
	if err := validateLimits(limits); err != nil {
		return nil, err
	}
	return limits, nil
}

// cutLimit cuts s at its first separator.
func cutLimit(s string) (item, after string, found bool) {
	if i := strings.IndexFunc(s, isLimitSeparator); i >= 0 {
		return s[:i], s[i+1:], true
	}
	return s, "", false
}

func isLimitSeparator(r rune) bool { return r == ';' || r == ',' || r == '|' }

func parseLimit(item string) (Limit, error) {
	bad := func(why string) (Limit, error) {
		return Limit{}, fmt.Errorf("%w: %q: %s (want e.g. \"100/minute\" or \"500 per 7 days\")",
			ErrInvalidLimit, strings.TrimSpace(item), why)
	}
	rest := strings.ToLower(strings.TrimSpace(item))
	countText, rest := leadingDigits(rest)
	if countText == "" {
		return bad("it does not start with a count")
	}
	rest = strings.TrimSpace(rest)
	switch {
	case strings.HasPrefix(rest, "/"):
		rest = rest[1:]
	case strings.HasPrefix(rest, "per") && (len(rest) == 3 || rest[3] == ' ' || isDigit(rest[3])):
		rest = rest[3:]
	default:
		return bad(`the count is not followed by "/" or "per"`)
	}
	rest = strings.TrimSpace(rest)

	multiplier := int64(1)
	if nText, after := leadingDigits(rest); nText != "" {
		n, err := strconv.ParseInt(nText, 10, 64)
		if err != nil || n < 1 {
			return bad("the period multiplier must be a positive whole number")
		}
		multiplier = n
		rest = strings.TrimSpace(after)
	}

	unit, ok := parseUnit(rest)
	if !ok {
		return bad(fmt.Sprintf("unknown unit %q", rest))
	}
	count, err := strconv.ParseInt(countText, 10, 64)
	if err != nil || count > MaxCount {
		return bad(fmt.Sprintf("the count must be at most %d", MaxCount))
	}
	if multiplier > int64(MaxPeriod/unit) {
		return bad(fmt.Sprintf("the period must be at most %v", MaxPeriod))
	}
	l := Limit{Count: count, Period: time.Duration(multiplier) * unit}
	if err := l.Validate(); err != nil {
		return bad(strings.TrimPrefix(err.Error(), ErrInvalidLimit.Error()+": "))
	}
	return l, nil
}

func parseUnit(s string) (time.Duration, bool) {
	s = strings.TrimSuffix(s, "s")
	for _, u := range units {
		if s == u.name {
			return u.d, true
		}
	}
	return 0, false
}

func leadingDigits(s string) (digits, rest string) {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return s[:i], s[i:]
}

func isDigit(b byte) bool { return '0' <= b && b <= '9' }

// FormatLimits returns limits in the notation ParseLimits reads, joined by ";".
func FormatLimits(limits []Limit) string {
	parts := make([]string, len(limits))
	for i, l := range limits {
		parts[i] = l.String()
	}
	return strings.Join(parts, ";")
}

func validateLimits(limits []Limit) error {
	if len(limits) == 0 {
		return fmt.Errorf("%w: no limits", ErrInvalidLimit)
	}
	if len(limits) > MaxLimits {
		return fmt.Errorf("%w: %d limits, at most %d are allowed", ErrInvalidLimit, len(limits), MaxLimits)
	}
	for i, l := range limits {
		if err := l.Validate(); err != nil {
			return err
		}
		for _, earlier := range limits[:i] {
			if earlier.Period == l.Period {
				return fmt.Errorf("%w: %s and %s have the same period", ErrInvalidLimit, earlier, l)
			}
		}
	}
	return nil
}
