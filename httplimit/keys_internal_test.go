package httplimit

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestNthFromRight(t *testing.T) {
	tests := []struct {
		give []string
		n    int
		want string
	}{
		{give: nil, n: 1, want: ""},
		{give: []string{"a"}, n: 1, want: "a"},
		{give: []string{"a"}, n: 2, want: ""},
		{give: []string{"a, b , c"}, n: 1, want: "c"},
		{give: []string{"a, b , c"}, n: 2, want: "b"},
		{give: []string{"a, b , c"}, n: 3, want: "a"},
		{give: []string{"a,,b, ,"}, n: 2, want: "a"},
		{give: []string{"a, b", "c"}, n: 2, want: "b"},
		{give: []string{"a, b", "c"}, n: 3, want: "a"},
		{give: []string{",,,"}, n: 1, want: ""},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, nthFromRight(tt.give, tt.n), "nthFromRight(%q, %d)", tt.give, tt.n)
	}
}

func TestNormalizeIP(t *testing.T) {
	tests := []struct{ give, want string }{
		{give: "203.0.113.7", want: "203.0.113.7"},
		{give: "2001:db8:1:2:3:4:5:6", want: "2001:db8:1:2::/64"},
		{give: "fe80::1%eth0", want: "fe80::/64"},
		{give: "::ffff:203.0.113.7", want: "203.0.113.7"},
		{give: "", want: ""},
		{give: "h:abc", want: "raw:h:abc"},
		{give: "not-an-ip", want: "not-an-ip"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, IPKey(tt.give), "IPKey(%q)", tt.give)
	}
}

// FuzzKeys checks that the key functions never panic, that the entry taken
// from X-Forwarded-For is a trimmed part of the header, and that a bounded key
// is never longer than maxClientKeyLen plus its hash prefix.
func FuzzKeys(f *testing.F) {
	for _, s := range []string{"1.1.1.1, 2.2.2.2", "::1", ", ,", "[::1]:80", "2001:db8::1%x"} {
		f.Add(s, 2)
	}
	f.Fuzz(func(t *testing.T, header string, n int) {
		n = 1 + (n%64+64)%64
		entry := nthFromRight(strings.Split(header, "\n"), n)
		if entry != strings.TrimSpace(entry) || !strings.Contains(header, entry) || strings.Contains(entry, ",") {
			t.Fatalf("nthFromRight(%q, %d) = %q", header, n, entry)
		}
		_ = IPKey(header)
		if k := boundKey(header); len(k) > maxClientKeyLen && len(k) != len("sha256:")+32 {
			t.Fatalf("boundKey of %d bytes is %d bytes", len(header), len(k))
		}
	})
}
