package redis

import (
	"strconv"
	"time"
	"unsafe"

	"github.com/ginlimit/ginlimit/backend"
)

// Key returns the Redis key that holds the state of key under p:
//
//	{<key>}:<strategy>:<seconds>[,<seconds>...]
//
// such as "{ginlimit:default:203.0.113.7}:s:60,3600" for limits of a minute
// and an hour. The whole key is the Redis Cluster hash tag, so every client
// lands on a slot of its own and one decision touches one slot. Bytes of key outside printable ASCII, and the
// characters { } % that would end the tag early or make two keys collide, are
// written as %XX. The policy part keeps the counts of policies of different
// shapes apart, and shares those of policies that differ only in their
// Counts, as the backend contract requires.
func Key(key string, p backend.Policy) string {
	b := appendKey(make([]byte, 0, len(key)+16+11*len(p.Limits)), key, p)
	return unsafe.String(unsafe.SliceData(b), len(b)) // b is never written again
}

// appendKey appends Key(key, p) to dst.
func appendKey(dst []byte, key string, p backend.Policy) []byte {
	dst = append(dst, '{')
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c <= ' ' || c >= 0x7f || c == '{' || c == '}' || c == '%' {
			const hex = "0123456789ABCDEF"
			dst = append(dst, '%', hex[c>>4], hex[c&0xf])
			continue
		}
		dst = append(dst, c)
	}
	dst = append(dst, "}:"...)
	dst = append(dst, strategyLetter(p.Strategy))
	for i, l := range p.Limits {
		if i == 0 {
			dst = append(dst, ':')
		} else {
			dst = append(dst, ',')
		}
		dst = strconv.AppendInt(dst, int64(l.Period/time.Second), 10)
	}
	return dst
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

// Slot returns the Redis Cluster hash slot of every key Key makes of key,
// whatever the policy: the CRC16 of the hash tag, the escaped key, modulo
// 16384. A cluster serves each slot from one master, so the keys of one slot
// fail and recover together. key must not be empty (Redis hashes a key whose
// tag is empty whole).
func Slot(key string) uint16 {
	const hex = "0123456789ABCDEF"
	var crc uint16
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c <= ' ' || c >= 0x7f || c == '{' || c == '}' || c == '%' {
			crc = crc16(crc, '%')
			crc = crc16(crc, hex[c>>4])
			crc = crc16(crc, hex[c&0xf])
			continue
		}
		crc = crc16(crc, c)
	}
	return crc & 16383
}

// crc16 adds b to crc, the CRC16-CCITT (XMODEM) Redis Cluster hashes keys
// with.
func crc16(crc uint16, b byte) uint16 {
	return crc<<8 ^ crc16Table[byte(crc>>8)^b]
}

var crc16Table = func() (t [256]uint16) {
	for i := range t {
		crc := uint16(i) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
		t[i] = crc
	}
	return t
}()
