package ipspace

import (
	"net/netip"
	"strings"
	"testing"
)

func TestAddressClaimName(t *testing.T) {
	tests := []struct {
		addr string
		name string
	}{
		{addr: "10.32.1.5", name: "10.32.1.5"},
		{addr: "0.0.0.0", name: "0.0.0.0"},
		{addr: "fd00::1", name: "fd00-0000-0000-0000-0000-0000-0000-0001"},
		{addr: "2001:db8:ab::ff:1", name: "2001-0db8-00ab-0000-0000-0000-00ff-0001"},
		{addr: "::", name: "0000-0000-0000-0000-0000-0000-0000-0000"},
		{addr: "::ffff:10.0.0.1", name: "10.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			a := netip.MustParseAddr(tt.addr)
			if got := AddressClaimName(a); got != tt.name {
				t.Fatalf("AddressClaimName(%s) = %q, want %q", a, got, tt.name)
			}
			back, err := AddressFromClaimName(tt.name)
			if err != nil {
				t.Fatalf("AddressFromClaimName(%q): %v", tt.name, err)
			}
			if back != a.Unmap() {
				t.Fatalf("AddressFromClaimName(%q) = %s, want %s", tt.name, back, a.Unmap())
			}
		})
	}
}

func TestAddressFromClaimNameRejectsOtherSpellings(t *testing.T) {
	for _, name := range []string{
		"fd00--1",
		"fd00-0-0-0-0-0-0-1",
		"FD00-0000-0000-0000-0000-0000-0000-0001",
		"fd00:0000:0000:0000:0000:0000:0000:0001",
		"fd00-0000-0000-0000-0000-0000-0000-00001",
		"fd00-0000-0000-0000-0000-0000-0000_0001",
		"fd00-0000-0000-0000-0000-0000-0000-000g",
		"010.032.001.005",
		"10.32.1",
		"",
		"::ffff:10.0.0.1",
		"0000-0000-0000-0000-0000-ffff-0a20-0105",
	} {
		if a, err := AddressFromClaimName(name); err == nil {
			t.Errorf("AddressFromClaimName(%q) = %s, want an error", name, a)
		}
	}
}

func TestBlockClaimName(t *testing.T) {
	tests := []struct {
		prefix string
		name   string
	}{
		{prefix: "10.32.1.0/24", name: "10.32.1.0-24"},
		{prefix: "10.32.0.0/12", name: "10.32.0.0-12"},
		{prefix: "fd00::100/120", name: "fd00-0000-0000-0000-0000-0000-0000-0100-120"},
		{prefix: "fd00::/64", name: "fd00-0000-0000-0000-0000-0000-0000-0000-64"},
	}
	for _, tt := range tests {
		t.Run(tt.prefix, func(t *testing.T) {
			p := netip.MustParsePrefix(tt.prefix)
			if got := BlockClaimName(p); got != tt.name {
				t.Fatalf("BlockClaimName(%s) = %q, want %q", p, got, tt.name)
			}
			back, err := PrefixFromBlockClaimName(tt.name)
			if err != nil || back != p {
				t.Fatalf("PrefixFromBlockClaimName(%q) = %s, %v; want %s", tt.name, back, err, p)
			}
		})
	}
}

func TestPrefixFromBlockClaimNameRejects(t *testing.T) {
	for _, name := range []string{
		"10.32.1.0",
		"10.32.1.0-024",
		"10.32.1.0-+24",
		"10.32.1.0-33",
		"10.32.1.1-24",
		"fd00-0000-0000-0000-0000-0000-0000-0100-129",
		"fd00--100-120",
	} {
		if p, err := PrefixFromBlockClaimName(name); err == nil {
			t.Errorf("PrefixFromBlockClaimName(%q) = %s, want an error", name, p)
		}
	}
}

// FuzzClaimNameRoundTrip checks that names and addresses are one-to-one:
// every address encodes to a name that decodes back to it, and every name
// that decodes encodes back to itself.
func FuzzClaimNameRoundTrip(f *testing.F) {
	f.Add([]byte{10, 32, 1, 5}, "10.32.1.5")
	f.Add([]byte{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, "fd00--1")
	f.Add([]byte{0xfd}, "fd00-0000-0000-0000-0000-0000-0000-0001-120")
	f.Add([]byte{0}, "0000-0000-0000-0000-0000-ffff-0a20-0105")
	f.Fuzz(func(t *testing.T, raw []byte, name string) {
		if a, ok := netip.AddrFromSlice(raw); ok {
			a = a.Unmap()
			back, err := AddressFromClaimName(AddressClaimName(a))
			if err != nil || back != a {
				t.Fatalf("address %s: name %q decodes to %s, %v", a, AddressClaimName(a), back, err)
			}
			for bits := 0; bits <= a.BitLen(); bits += 7 {
				p := netip.PrefixFrom(a, bits).Masked()
				if got, err := PrefixFromBlockClaimName(BlockClaimName(p)); err != nil || got != p {
					t.Fatalf("block %s: name %q decodes to %s, %v", p, BlockClaimName(p), got, err)
				}
			}
		}
		if a, err := AddressFromClaimName(name); err == nil && AddressClaimName(a) != name {
			t.Fatalf("name %q decodes to %s, which encodes to %q", name, a, AddressClaimName(a))
		}
		if p, err := PrefixFromBlockClaimName(name); err == nil && BlockClaimName(p) != name {
			t.Fatalf("block name %q decodes to %s, which encodes to %q", name, p, BlockClaimName(p))
		}
		if strings.Contains(name, ":") {
			if _, err := AddressFromClaimName(name); err == nil {
				t.Fatalf("name %q with ':' was accepted", name)
			}
		}
	})
}
