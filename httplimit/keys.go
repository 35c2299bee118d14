package httplimit

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/textproto"
	"strings"
)

// maxClientKeyLen bounds the client part of a key; longer keys are hashed.
const maxClientKeyLen = 128

// KeyFunc returns the key a request is counted under, such as a client IP,
// a user ID or an API key. An empty key falls back to the client IP.
type KeyFunc func(r *http.Request) string

// KeyByIP counts requests by client IP, with IPv6 addresses grouped by /64
// (one host owns a whole /64). It is the default. The client IP is the one
// the adapter knows: for the Middleware of this package, the peer address
// (r.RemoteAddr), which behind a proxy or a load balancer is the proxy's,
// shared by every client: use KeyByForwardedFor there. The ginlimit package
// reads Gin's ClientIP instead.
func KeyByIP() Option {
	return routeOption("KeyByIP", func(c *config) error {
		c.keyFunc = nil
		return nil
	})
}

// KeyByHeader counts requests by the value of the named request header, such
// as an API key, and by client IP (KeyByIP) when the header is absent or
// empty. Header keys and IP keys never collide. Only trust a header your own
// authentication has checked: a client that invents a new value per request
// is never limited.
func KeyByHeader(name string) Option {
	return routeOption("KeyByHeader", func(c *config) error {
		if err := checkHeaderName(name); err != nil {
			return invalid(fmt.Sprintf("KeyByHeader(%q)", name), err)
		}
		canonical := textproto.CanonicalMIMEHeaderKey(name)
		c.keyFunc = func(r *http.Request) string {
			values := r.Header[canonical]
			if len(values) == 0 {
				return ""
			}
			v := strings.TrimSpace(values[0])
			if v == "" {
				return ""
			}
			return "h:" + v
		}
		return nil
	})
}

// KeyByForwardedFor counts requests by the nth X-Forwarded-For entry from the
// right (n = 1 is the last one), with IPv6 grouped by /64. Each proxy appends
// the address it received the request from, so with n proxies you trust in
// front of the service the nth entry from the right is the client as your
// first proxy saw it, and everything left of it is unverified. Behind Google
// Cloud's external Application Load Balancer the header ends with
// "<client>,<load balancer>", so n = 2; requests sent straight to a *.run.app
// URL have been seen with the client as the only entry, n = 1. Check what
// your own deployment receives before you choose n.
//
// When the header has fewer than n entries, or the entry is not an IP
// address, the request did not come through the expected proxies and is
// counted by its peer address (r.RemoteAddr). n is 1 to 64.
func KeyByForwardedFor(n int) Option {
	return routeOption("KeyByForwardedFor", func(c *config) error {
		if n < 1 || n > 64 {
			return invalidf(fmt.Sprintf("KeyByForwardedFor(%d)", n), "n must be 1 to 64")
		}
		c.keyFunc = func(r *http.Request) string {
			entry := nthFromRight(r.Header["X-Forwarded-For"], n)
			if addr, err := netip.ParseAddr(entry); err == nil {
				return addrKey(entry, addr)
			}
			return peerKey(r)
		}
		return nil
	})
}

// peerKey returns the key of r's peer address (r.RemoteAddr), IPv6 grouped
// by /64: the client IP of a request that came through no proxy.
func peerKey(r *http.Request) string {
	ip, _, err := net.SplitHostPort(strings.TrimSpace(r.RemoteAddr))
	if err != nil {
		return ""
	}
	return IPKey(ip)
}

// IPKey returns the key of a client IP as a framework reports it: s
// unchanged for IPv4, the /64 prefix for IPv6, and the IPv4 address for
// IPv4-mapped IPv6. Anything else (Gin returns a trusted platform's header
// as sent) is marked "raw:" so that it can never equal another kind of key,
// such as KeyByHeader's "h:" keys.
func IPKey(s string) string {
	if strings.IndexByte(s, ':') < 0 {
		return s // IPv4, or a value that no other kind of key can equal
	}
	addr, err := netip.ParseAddr(s)
	if err != nil {
		return "raw:" + s
	}
	return addrKey(s, addr)
}

func addrKey(s string, addr netip.Addr) string {
	switch {
	case addr.Is4():
		return s // ParseAddr accepts only the canonical dotted form
	case addr.Is4In6():
		return addr.Unmap().String()
	default:
		p, _ := addr.WithZone("").Prefix(64)
		return p.String()
	}
}

// nthFromRight returns the nth non-empty comma-separated entry from the right
// across all the header's lines, or "" when there are fewer. It allocates
// nothing.
func nthFromRight(lines []string, n int) string {
	for i := len(lines) - 1; i >= 0; i-- {
		line := lines[i]
		end := len(line)
		for {
			start := strings.LastIndexByte(line[:end], ',') + 1
			if entry := strings.TrimSpace(line[start:end]); entry != "" {
				if n--; n == 0 {
					return entry
				}
			}
			if start == 0 {
				break
			}
			end = start - 1
		}
	}
	return ""
}

// boundKey returns the key a client key k is counted under: "unknown" for
// an empty one, a hash of k when it is longer than maxClientKeyLen, so that a
// client cannot make the store hold arbitrarily long keys, and otherwise k.
func boundKey(k string) string {
	if k == "" {
		return "unknown"
	}
	if len(k) <= maxClientKeyLen {
		return k
	}
	sum := sha256.Sum256([]byte(k))
	return "sha256:" + hex.EncodeToString(sum[:16])
}

func checkHeaderName(name string) error {
	if name == "" {
		return fmt.Errorf("the header name is empty")
	}
	for i := 0; i < len(name); i++ {
		if !isTokenChar(name[i]) {
			return fmt.Errorf("character %q is not allowed in a header name", name[i])
		}
	}
	return nil
}

// isTokenChar reports whether b may appear in an HTTP token (RFC 9110).
func isTokenChar(b byte) bool {
	return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' ||
		strings.IndexByte("!#$%&'*+-.^_`|~", b) >= 0
}
