package ipspace

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Range is an inclusive range of addresses of one family.
type Range struct {
	First, Last netip.Addr
}

// Contains reports whether a lies in r.
func (r Range) Contains(a netip.Addr) bool {
	return a.BitLen() == r.First.BitLen() && r.First.Compare(a) <= 0 && a.Compare(r.Last) <= 0
}

// String returns r as ParseRange accepts it.
func (r Range) String() string {
	if r.First == r.Last {
		return r.First.String()
	}
	return r.First.String() + "-" + r.Last.String()
}

// prefixRange returns the addresses of p as a Range.
func prefixRange(p netip.Prefix) Range {
	p = p.Masked()
	first := p.Addr()
	host := first.BitLen() - p.Bits()
	last := addrFromValue(addrValue(first).Add(lowBits(host)), first)
	return Range{First: first, Last: last}
}

// ParseRange parses an exclusion: an address (10.32.0.10), a prefix
// (10.32.0.0/28) or an inclusive range of two addresses (10.32.0.10-10.32.0.20).
func ParseRange(s string) (Range, error) {
	if first, last, ok := strings.Cut(s, "-"); ok {
		a, errA := ParseAddr(first)
		b, errB := ParseAddr(last)
		switch {
		case errA != nil:
			return Range{}, errA
		case errB != nil:
			return Range{}, errB
		case a.BitLen() != b.BitLen():
			return Range{}, fmt.Errorf("range %q mixes IPv4 and IPv6", s)
		case b.Less(a):
			return Range{}, fmt.Errorf("range %q ends before it starts: write the lower address first", s)
		}
		return Range{First: a, Last: b}, nil
	}
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil || p.Addr().Zone() != "" || p.Addr().Is4In6() {
			return Range{}, fmt.Errorf("%q is not a prefix such as 10.32.0.0/28", s)
		}
		if p.Masked() != p {
			return Range{}, fmt.Errorf("prefix %q has bits set after the prefix length: write %s", s, p.Masked())
		}
		return prefixRange(p), nil
	}
	a, err := ParseAddr(s)
	if err != nil {
		return Range{}, err
	}
	return Range{First: a, Last: a}, nil
}

// AddressSpace is the set of usable addresses of a pool: every address of
// its prefix minus holes (exclusions, the gateway, the IPv4 network and
// broadcast addresses, the IPv6 subnet-router anycast address). It counts
// and searches by jumping over holes, never by scanning addresses, so a /64
// costs what a /24 does.
type AddressSpace struct {
	prefix netip.Prefix
	// holes are sorted, disjoint, non-adjacent and inside prefix.
	holes []Range
	// reasons explains each unusable address, for error messages.
	reasons []unusable
}

type unusable struct {
	Range
	why string
}

// NewAddressSpace returns the usable addresses of prefix minus exclude and
// gateway (an invalid gateway is ignored). Exclusions may reach outside
// prefix; only the part inside counts.
func NewAddressSpace(prefix netip.Prefix, exclude []Range, gateway netip.Addr) AddressSpace {
	prefix = prefix.Masked()
	s := AddressSpace{prefix: prefix}
	whole := prefixRange(prefix)
	if prefix.Addr().Is4() && prefix.Bits() < 31 {
		s.reasons = append(s.reasons,
			unusable{Range{whole.First, whole.First}, "the network address of " + prefix.String()},
			unusable{Range{whole.Last, whole.Last}, "the broadcast address of " + prefix.String()})
	}
	if prefix.Addr().Is6() && prefix.Bits() < 127 {
		s.reasons = append(s.reasons, unusable{Range{whole.First, whole.First}, "the subnet-router anycast address of " + prefix.String()})
	}
	if gateway.IsValid() {
		s.reasons = append(s.reasons, unusable{Range{gateway, gateway}, "the gateway of " + prefix.String()})
	}
	for _, r := range exclude {
		s.reasons = append(s.reasons, unusable{r, "excluded by " + r.String()})
	}
	s.holes = mergeRanges(whole, s.reasons)
	return s
}

// mergeRanges clips rs to within, sorts them and merges overlapping and
// adjacent ones.
func mergeRanges(within Range, rs []unusable) []Range {
	var out []Range
	for _, r := range rs {
		if r.First.BitLen() != within.First.BitLen() || r.Last.Less(within.First) || within.Last.Less(r.First) {
			continue
		}
		out = append(out, Range{First: maxAddr(r.First, within.First), Last: minAddr(r.Last, within.Last)})
	}
	slices.SortFunc(out, func(a, b Range) int { return a.First.Compare(b.First) })
	merged := out[:0]
	for _, r := range out {
		if n := len(merged); n > 0 && touches(merged[n-1], r) {
			merged[n-1].Last = maxAddr(merged[n-1].Last, r.Last)
			continue
		}
		merged = append(merged, r)
	}
	return merged
}

// touches reports whether b, which starts no earlier than a, overlaps a or
// starts right after it.
func touches(a, b Range) bool {
	next := a.Last.Next()
	return !next.IsValid() || !next.Less(b.First)
}

func maxAddr(a, b netip.Addr) netip.Addr {
	if a.Less(b) {
		return b
	}
	return a
}

func minAddr(a, b netip.Addr) netip.Addr {
	if a.Less(b) {
		return a
	}
	return b
}

// Prefix returns the pool prefix.
func (s AddressSpace) Prefix() netip.Prefix { return s.prefix }

// Capacity returns the number of usable addresses.
func (s AddressSpace) Capacity() Count { return s.CountIn(s.prefix) }

// CountIn returns the number of usable addresses inside p.
func (s AddressSpace) CountIn(p netip.Prefix) Count {
	if !s.prefix.Overlaps(p) {
		return Count{}
	}
	if p.Bits() < s.prefix.Bits() {
		p = s.prefix
	}
	r := prefixRange(p)
	// Sum the gaps between holes rather than subtract holes from the whole,
	// so that even ::/0 (2^128 addresses, one more than a Count holds) is
	// counted exactly: its subnet-router address is always a hole.
	var n Count
	next := r.First
	for _, h := range s.holes {
		if h.Last.Less(next) {
			continue
		}
		if r.Last.Less(h.First) {
			break
		}
		if next.Less(h.First) {
			n = n.Add(span(next, h.First.Prev()))
		}
		next = h.Last.Next()
		if !next.IsValid() || r.Last.Less(next) {
			return n
		}
	}
	return n.Add(span(next, r.Last))
}

// Contains reports whether a is usable.
func (s AddressSpace) Contains(a netip.Addr) bool {
	return s.prefix.Contains(a) && s.holeAt(a) < 0
}

// WhyUnusable says why a is not usable, or returns "" when it is.
func (s AddressSpace) WhyUnusable(a netip.Addr) string {
	if !s.prefix.Contains(a) {
		return "outside " + s.prefix.String()
	}
	for _, r := range s.reasons {
		if r.Contains(a) {
			return r.why
		}
	}
	return ""
}

// holeAt returns the index of the hole holding a, or -1.
func (s AddressSpace) holeAt(a netip.Addr) int {
	i, found := slices.BinarySearchFunc(s.holes, a, func(h Range, a netip.Addr) int {
		switch {
		case h.Last.Less(a):
			return -1
		case a.Less(h.First):
			return 1
		}
		return 0
	})
	if !found {
		return -1
	}
	return i
}

// NextIn returns the first usable address at or after from inside p.
func (s AddressSpace) NextIn(p netip.Prefix, from netip.Addr) (netip.Addr, bool) {
	if !s.prefix.Overlaps(p) || from.BitLen() != s.prefix.Addr().BitLen() {
		return netip.Addr{}, false
	}
	if p.Bits() < s.prefix.Bits() {
		p = s.prefix
	}
	r := prefixRange(p)
	if from.Less(r.First) {
		from = r.First
	}
	if i := s.holeAt(from); i >= 0 {
		from = s.holes[i].Last.Next()
	}
	if !from.IsValid() || r.Last.Less(from) {
		return netip.Addr{}, false
	}
	return from, true
}
