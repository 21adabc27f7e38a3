package ipspace

import (
	"fmt"
	"net/netip"
)

// ParseAddr parses a plain IPv4 or IPv6 address. Zones and IPv4-mapped IPv6
// addresses are refused, so that every address belongs to exactly one
// family and has one claim name.
func ParseAddr(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" || a.Is4In6() {
		return netip.Addr{}, fmt.Errorf("%q is not an IPv4 or IPv6 address such as 10.32.0.1 or fd00::1", s)
	}
	return a, nil
}

// ParsePrefix parses a prefix in canonical form (the network address, lower
// case, shortest IPv6 spelling) and otherwise says how to write it. Pools
// are compared, and blocks named, by this one spelling.
func ParsePrefix(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	switch {
	case err != nil || p.Addr().Zone() != "":
		return netip.Prefix{}, fmt.Errorf("%q is not a prefix such as 10.32.0.0/12 or fd00::/64", s)
	case p.Addr().Is4In6():
		return netip.Prefix{}, fmt.Errorf("%s is an IPv4-mapped IPv6 prefix: write IPv4 prefixes in dotted form such as 10.32.0.0/12", s)
	case p.Masked().String() != s:
		return netip.Prefix{}, fmt.Errorf("%s is not in canonical form: write %s (the network address, lower case, shortest IPv6 spelling)", s, p.Masked())
	}
	return p, nil
}

// Family names the address family of a, for messages: IPv4 or IPv6.
func Family(a netip.Addr) string {
	if a.Is4() {
		return "IPv4"
	}
	return "IPv6"
}
