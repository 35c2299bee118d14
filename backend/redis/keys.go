package redis

import (
	"strconv"
	"strings"
	"time"

	"github.com/ginlimit/ginlimit/backend"
)

// Key returns the Redis key that holds the state of key under p:
//
//	{<key>}:<strategy>:<count>/<seconds>[,<count>/<seconds>...]
//
// such as "{ginlimit:default:203.0.113.7}:s:100/60". The whole key is the
// Redis Cluster hash tag, so every client lands on a slot of its own and one
// decision touches one slot. Bytes of key outside printable ASCII, and the
// characters { } % that would end the tag early or make two keys collide, are
// written as %XX. The policy part keeps the counts of different policies of
// one key apart, as the backend contract requires.
func Key(key string, p backend.Policy) string {
	var b strings.Builder
	b.Grow(len(key) + 16 + 16*len(p.Limits))
	b.WriteByte('{')
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c <= ' ' || c >= 0x7f || c == '{' || c == '}' || c == '%' {
			const hex = "0123456789ABCDEF"
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xf])
			continue
		}
		b.WriteByte(c)
	}
	b.WriteString("}:")
	b.WriteByte(strategyLetter(p.Strategy))
	var num [20]byte
	for i, l := range p.Limits {
		if i == 0 {
			b.WriteByte(':')
		} else {
			b.WriteByte(',')
		}
		b.Write(strconv.AppendInt(num[:0], l.Count, 10))
		b.WriteByte('/')
		b.Write(strconv.AppendInt(num[:0], int64(l.Period/time.Second), 10))
	}
	return b.String()
}

func strategyLetter(s backend.Strategy) byte {
	switch s {
	case backend.FixedWindow:
		return 'f'
	case backend.TokenBucket:
		return 't'
	default:
		return 's'
	}
}
