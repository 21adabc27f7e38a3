package ipspace

import (
	"math/big"
	"math/bits"
	"net/netip"
)

// Count is an exact, non-negative number of addresses or blocks. It has 128
// bits so that an IPv6 /64 or /48 pool is counted exactly, without floating
// point and without overflow.
type Count struct {
	hi, lo uint64
}

// CountOf returns n as a Count.
func CountOf(n uint64) Count { return Count{lo: n} }

// Add returns c+d, saturating at the largest Count (only 2^128 itself, the
// size of ::/0, does not fit).
func (c Count) Add(d Count) Count {
	lo, carry := bits.Add64(c.lo, d.lo, 0)
	hi, over := bits.Add64(c.hi, d.hi, carry)
	if over != 0 {
		return Count{hi: ^uint64(0), lo: ^uint64(0)}
	}
	return Count{hi: hi, lo: lo}
}

// Sub returns c-d, or zero when d is larger than c.
func (c Count) Sub(d Count) Count {
	if c.Cmp(d) <= 0 {
		return Count{}
	}
	lo, borrow := bits.Sub64(c.lo, d.lo, 0)
	hi, _ := bits.Sub64(c.hi, d.hi, borrow)
	return Count{hi: hi, lo: lo}
}

// Cmp returns -1, 0 or +1 as c is less than, equal to or greater than d.
func (c Count) Cmp(d Count) int {
	switch {
	case c.hi < d.hi:
		return -1
	case c.hi > d.hi:
		return 1
	case c.lo < d.lo:
		return -1
	case c.lo > d.lo:
		return 1
	}
	return 0
}

// IsZero reports whether c is zero.
func (c Count) IsZero() bool { return c == Count{} }

// Uint64 returns c and whether it fits in 64 bits.
func (c Count) Uint64() (uint64, bool) { return c.lo, c.hi == 0 }

// Float64 returns c rounded to the nearest float64, for metrics.
func (c Count) Float64() float64 {
	return float64(c.hi)*(1<<64) + float64(c.lo)
}

// String returns c in decimal.
func (c Count) String() string {
	if c.hi == 0 {
		return new(big.Int).SetUint64(c.lo).String()
	}
	n := new(big.Int).SetUint64(c.hi)
	n.Lsh(n, 64)
	return n.Or(n, new(big.Int).SetUint64(c.lo)).String()
}

// powerOfTwo returns 2^n, saturating at the largest Count for n >= 128.
func powerOfTwo(n int) Count {
	switch {
	case n >= 128:
		return Count{hi: ^uint64(0), lo: ^uint64(0)}
	case n >= 64:
		return Count{hi: 1 << (n - 64)}
	default:
		return Count{lo: 1 << n}
	}
}

// lowBits returns 2^n-1, the number with its n lowest bits set.
func lowBits(n int) Count {
	switch {
	case n >= 128:
		return Count{hi: ^uint64(0), lo: ^uint64(0)}
	case n >= 64:
		return Count{hi: 1<<(n-64) - 1, lo: ^uint64(0)}
	default:
		return Count{lo: 1<<n - 1}
	}
}

// addrValue returns an address as a 128-bit number (IPv4 in the low bits).
func addrValue(a netip.Addr) Count {
	if a.Is4() {
		b := a.As4()
		return Count{lo: uint64(b[0])<<24 | uint64(b[1])<<16 | uint64(b[2])<<8 | uint64(b[3])}
	}
	b := a.As16()
	var hi, lo uint64
	for i := 0; i < 8; i++ {
		hi = hi<<8 | uint64(b[i])
		lo = lo<<8 | uint64(b[i+8])
	}
	return Count{hi: hi, lo: lo}
}

// addrFromValue is the inverse of addrValue for the family of like.
func addrFromValue(v Count, like netip.Addr) netip.Addr {
	if like.Is4() {
		return netip.AddrFrom4([4]byte{byte(v.lo >> 24), byte(v.lo >> 16), byte(v.lo >> 8), byte(v.lo)})
	}
	var b [16]byte
	for i := 0; i < 8; i++ {
		b[7-i] = byte(v.hi >> (8 * i))
		b[15-i] = byte(v.lo >> (8 * i))
	}
	return netip.AddrFrom16(b)
}

// span returns the number of addresses from first to last inclusive.
func span(first, last netip.Addr) Count {
	return addrValue(last).Sub(addrValue(first)).Add(CountOf(1))
}

// lsh returns c shifted left by n bits; bits shifted past 128 are lost.
func (c Count) lsh(n int) Count {
	switch {
	case n >= 128:
		return Count{}
	case n >= 64:
		return Count{hi: c.lo << (n - 64)}
	case n == 0:
		return c
	}
	return Count{hi: c.hi<<n | c.lo>>(64-n), lo: c.lo << n}
}
