package ipspace

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// ipv6NameLen is the length of a fully expanded IPv6 address in a claim
// name: eight groups of four hex digits joined by seven '-'.
const ipv6NameLen = 8*4 + 7

// AddressClaimName returns the one name an Address claim for a may have: the
// dotted IPv4 address, or the fully expanded IPv6 address with '-' for ':'.
// Because the name is a pure, one-to-one function of the address, the API
// server's name uniqueness guarantees that no address is held twice.
func AddressClaimName(a netip.Addr) string {
	a = a.Unmap()
	if a.Is4() {
		return a.String()
	}
	b := a.As16()
	var sb strings.Builder
	sb.Grow(ipv6NameLen)
	for i := 0; i < 16; i += 2 {
		if i > 0 {
			sb.WriteByte('-')
		}
		sb.WriteString(hex.EncodeToString(b[i : i+2]))
	}
	return sb.String()
}

// BlockClaimName returns the one name a Block claim for p may have: its
// first address encoded as by AddressClaimName, '-', its prefix length.
func BlockClaimName(p netip.Prefix) string {
	p = p.Masked()
	return AddressClaimName(p.Addr()) + "-" + strconv.Itoa(p.Bits())
}

// AddressFromClaimName is the inverse of AddressClaimName. It rejects every
// other spelling of an address, so that name and address stay one-to-one.
func AddressFromClaimName(name string) (netip.Addr, error) {
	if strings.Contains(name, ".") {
		a, err := netip.ParseAddr(name)
		if err != nil || !a.Is4() || a.String() != name {
			return netip.Addr{}, fmt.Errorf("%q is not a claim name: write an IPv4 address as four decimal octets without leading zeros", name)
		}
		return a, nil
	}
	if len(name) != ipv6NameLen || strings.ToLower(name) != name {
		return netip.Addr{}, fmt.Errorf("%q is not a claim name: write an IPv6 address as eight groups of four lower-case hex digits joined by '-'", name)
	}
	var b [16]byte
	for g := range 8 {
		field := name[g*5 : g*5+4]
		if g < 7 && name[g*5+4] != '-' {
			return netip.Addr{}, fmt.Errorf("%q is not a claim name: groups must be joined by '-'", name)
		}
		if _, err := hex.Decode(b[g*2:g*2+2], []byte(field)); err != nil {
			return netip.Addr{}, fmt.Errorf("%q is not a claim name: %q is not four hex digits", name, field)
		}
	}
	a := netip.AddrFrom16(b)
	if a.Is4In6() {
		return netip.Addr{}, fmt.Errorf("%q is not a claim name: an IPv4 address is named in dotted form, %s", name, a.Unmap())
	}
	return a, nil
}

// PrefixFromBlockClaimName is the inverse of BlockClaimName.
func PrefixFromBlockClaimName(name string) (netip.Prefix, error) {
	i := strings.LastIndexByte(name, '-')
	if i < 0 {
		return netip.Prefix{}, fmt.Errorf("%q is not a block claim name: expected <first address>-<prefix length>", name)
	}
	a, err := AddressFromClaimName(name[:i])
	if err != nil {
		return netip.Prefix{}, err
	}
	bitsText := name[i+1:]
	bits, err := strconv.Atoi(bitsText)
	if err != nil || strconv.Itoa(bits) != bitsText || bits < 0 || bits > a.BitLen() {
		return netip.Prefix{}, fmt.Errorf("%q is not a block claim name: %q is not a prefix length for %s", name, bitsText, a)
	}
	p := netip.PrefixFrom(a, bits)
	if p.Masked() != p {
		return netip.Prefix{}, fmt.Errorf("%q is not a block claim name: %s has bits set after the prefix length", name, p)
	}
	return p, nil
}
