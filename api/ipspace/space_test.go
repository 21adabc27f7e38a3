package ipspace

import (
	"net/netip"
	"strings"
	"testing"
)

func mustRanges(t testing.TB, specs ...string) []Range {
	t.Helper()
	var out []Range
	for _, s := range specs {
		r, err := ParseRange(s)
		if err != nil {
			t.Fatalf("ParseRange(%q): %v", s, err)
		}
		out = append(out, r)
	}
	return out
}

// mustLayout lays out a pool of cidr with blocks of blockBits and the
// exclusions given.
func mustLayout(t testing.TB, cidr string, blockBits int, exclude ...string) Layout {
	t.Helper()
	return NewLayout(netip.MustParsePrefix(cidr), mustRanges(t, exclude...), netip.Addr{}, blockBits)
}

func TestCapacity(t *testing.T) {
	tests := []struct {
		name    string
		prefix  string
		exclude []string
		gateway string
		want    string
	}{
		{name: "IPv4 /24 loses network and broadcast", prefix: "10.0.0.0/24", want: "254"},
		{name: "IPv4 /24 with gateway", prefix: "10.0.0.0/24", gateway: "10.0.0.1", want: "253"},
		{name: "gateway on the network address counts once", prefix: "10.0.0.0/24", gateway: "10.0.0.0", want: "254"},
		{name: "IPv4 /31 keeps both addresses", prefix: "10.0.0.0/31", want: "2"},
		{name: "IPv4 /32 keeps its address", prefix: "10.0.0.7/32", want: "1"},
		{name: "IPv4 /30", prefix: "10.0.0.0/30", want: "2"},
		{name: "Weave default range", prefix: "10.32.0.0/12", want: "1048574"},
		{name: "exclusions of every kind, overlapping", prefix: "10.0.0.0/24",
			exclude: []string{"10.0.0.10", "10.0.0.0/28", "10.0.0.12-10.0.0.20", "10.0.0.200-10.0.0.255"},
			gateway: "10.0.0.254", want: "179"},
		{name: "exclusion reaching outside the pool", prefix: "10.0.0.0/24", exclude: []string{"9.0.0.0/8", "10.0.0.250-10.0.1.10"}, want: "249"},
		{name: "exclusion of another family is ignored", prefix: "10.0.0.0/24", exclude: []string{"fd00::/8"}, want: "254"},
		{name: "IPv6 /64 loses the subnet-router address", prefix: "fd00::/64", want: "18446744073709551615"},
		{name: "IPv6 /48", prefix: "fd00::/48", want: "1208925819614629174706175"},
		{name: "IPv6 /127 keeps both", prefix: "fd00::/127", want: "2"},
		{name: "IPv6 whole space", prefix: "::/0", exclude: []string{"::/1"}, want: "170141183460469231731687303715884105728"},
		{name: "IPv6 /64 minus a /65", prefix: "fd00::/64", exclude: []string{"fd00::8000:0:0:0/65"}, gateway: "fd00::1", want: "9223372036854775806"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var gw netip.Addr
			if tt.gateway != "" {
				gw = netip.MustParseAddr(tt.gateway)
			}
			s := NewAddressSpace(netip.MustParsePrefix(tt.prefix), mustRanges(t, tt.exclude...), gw)
			if got := s.Capacity().String(); got != tt.want {
				t.Fatalf("Capacity() = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestParseRange(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr string
	}{
		{in: "10.0.0.1", want: "10.0.0.1"},
		{in: "10.0.0.0/30", want: "10.0.0.0-10.0.0.3"},
		{in: "10.0.0.1-10.0.0.9", want: "10.0.0.1-10.0.0.9"},
		{in: "fd00::/126", want: "fd00::-fd00::3"},
		{in: "10.0.0.1/30", wantErr: "write 10.0.0.0/30"},
		{in: "10.0.0.9-10.0.0.1", wantErr: "write the lower address first"},
		{in: "10.0.0.1-fd00::1", wantErr: "mixes IPv4 and IPv6"},
		{in: "10.0.0.256", wantErr: "not an IPv4 or IPv6 address"},
		{in: "::ffff:10.0.0.1", wantErr: "not an IPv4 or IPv6 address"},
		{in: "fe80::1%eth0", wantErr: "not an IPv4 or IPv6 address"},
		{in: "10.0.0.0/33", wantErr: "not a prefix"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			r, err := ParseRange(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseRange(%q) error = %v, want it to contain %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil || r.String() != tt.want {
				t.Fatalf("ParseRange(%q) = %s, %v; want %s", tt.in, r, err, tt.want)
			}
		})
	}
}

func TestWhyUnusable(t *testing.T) {
	s := NewAddressSpace(netip.MustParsePrefix("10.0.0.0/24"), mustRanges(t, "10.0.0.10-10.0.0.19"), netip.MustParseAddr("10.0.0.1"))
	v6 := NewAddressSpace(netip.MustParsePrefix("fd00::/64"), nil, netip.Addr{})
	tests := []struct {
		space AddressSpace
		addr  string
		want  string
	}{
		{space: s, addr: "10.0.0.2", want: ""},
		{space: s, addr: "10.0.0.0", want: "the network address of 10.0.0.0/24"},
		{space: s, addr: "10.0.0.255", want: "the broadcast address of 10.0.0.0/24"},
		{space: s, addr: "10.0.0.1", want: "the gateway of 10.0.0.0/24"},
		{space: s, addr: "10.0.0.15", want: "excluded by 10.0.0.10-10.0.0.19"},
		{space: s, addr: "10.0.1.1", want: "outside 10.0.0.0/24"},
		{space: s, addr: "fd00::1", want: "outside 10.0.0.0/24"},
		{space: v6, addr: "fd00::", want: "the subnet-router anycast address of fd00::/64"},
		{space: v6, addr: "fd00::ffff:ffff:ffff:ffff", want: ""},
	}
	for _, tt := range tests {
		a := netip.MustParseAddr(tt.addr)
		if got := tt.space.WhyUnusable(a); got != tt.want {
			t.Errorf("WhyUnusable(%s) = %q, want %q", a, got, tt.want)
		}
		if got := tt.space.Contains(a); got != (tt.want == "") {
			t.Errorf("Contains(%s) = %v, want %v", a, got, tt.want == "")
		}
	}
}

func TestNextIn(t *testing.T) {
	s := NewAddressSpace(netip.MustParsePrefix("10.0.0.0/24"), mustRanges(t, "10.0.0.4-10.0.0.7", "10.0.0.16/28"), netip.MustParseAddr("10.0.0.1"))
	block := netip.MustParsePrefix("10.0.0.0/28")
	var got []string
	for a, ok := s.NextIn(block, netip.MustParseAddr("10.0.0.0")); ok; a, ok = s.NextIn(block, a.Next()) {
		got = append(got, a.String())
	}
	want := "10.0.0.2 10.0.0.3 10.0.0.8 10.0.0.9 10.0.0.10 10.0.0.11 10.0.0.12 10.0.0.13 10.0.0.14 10.0.0.15"
	if strings.Join(got, " ") != want {
		t.Fatalf("usable addresses of %s = %v, want %s", block, got, want)
	}
	if a, ok := s.NextIn(netip.MustParsePrefix("10.0.0.16/28"), netip.MustParseAddr("10.0.0.16")); ok {
		t.Fatalf("a fully excluded block yielded %s", a)
	}
	if a, ok := s.NextIn(s.Prefix(), netip.MustParseAddr("10.0.0.255")); ok {
		t.Fatalf("the broadcast address yielded %s", a)
	}
}

// TestHugePoolsAreNeverScanned would take years if any operation walked
// addresses or blocks one by one.
func TestHugePoolsAreNeverScanned(t *testing.T) {
	l := mustLayout(t, "fd00::/48", 120, "fd00::/49", "fd00:0:0:8000::/50")
	if got, want := l.Capacity().String(), "302231454903657293676544"; got != want {
		t.Fatalf("Capacity() = %s, want %s (2^78)", got, want)
	}
	if got, want := l.BlockCapacity().String(), "4722366482869645213696"; got != want {
		t.Fatalf("BlockCapacity() = %s, want %s (2^72)", got, want)
	}
	taken := func(p netip.Prefix) bool { return p.Addr() == netip.MustParseAddr("fd00:0:0:c000::") }
	block, ok := l.NextFreeBlock(netip.MustParseAddr("fd00::"), taken)
	if !ok || block.String() != "fd00:0:0:c000::100/120" {
		t.Fatalf("NextFreeBlock = %s, %v; want fd00:0:0:c000::100/120", block, ok)
	}
	a, ok := l.NextIn(l.Prefix(), netip.MustParseAddr("fd00::5"))
	if !ok || a.String() != "fd00:0:0:c000::" {
		t.Fatalf("NextIn = %s, %v; want fd00:0:0:c000::", a, ok)
	}
}

func TestNextFreeBlock(t *testing.T) {
	l := mustLayout(t, "10.0.0.0/22", 24, "10.0.1.0/24")
	takenSet := map[string]bool{"10.0.2.0/24": true}
	taken := func(p netip.Prefix) bool { return takenSet[p.String()] }
	tests := []struct {
		start string
		want  string
	}{
		{start: "10.0.0.0", want: "10.0.0.0/24"},
		{start: "10.0.1.7", want: "10.0.3.0/24"},
		{start: "10.0.2.0", want: "10.0.3.0/24"},
		{start: "192.168.0.1", want: "10.0.0.0/24"},
	}
	for _, tt := range tests {
		got, ok := l.NextFreeBlock(netip.MustParseAddr(tt.start), taken)
		if !ok || got.String() != tt.want {
			t.Errorf("NextFreeBlock(%s) = %s, %v; want %s", tt.start, got, ok, tt.want)
		}
	}
	takenSet["10.0.0.0/24"], takenSet["10.0.3.0/24"] = true, true
	if got, ok := l.NextFreeBlock(netip.MustParseAddr("10.0.3.9"), taken); ok {
		t.Fatalf("NextFreeBlock found %s in a pool whose blocks are all taken or empty", got)
	}
}

// FuzzCapacityMatchesBruteForce compares the counting and searching of small
// pools against a plain walk over every address.
func FuzzCapacityMatchesBruteForce(f *testing.F) {
	f.Add(false, uint8(24), uint16(0), uint16(5), uint16(300), uint16(10), uint16(20), uint8(1))
	f.Add(true, uint8(120), uint16(3), uint16(3), uint16(0), uint16(255), uint16(7), uint8(0))
	f.Add(false, uint8(31), uint16(0), uint16(0), uint16(1), uint16(1), uint16(0), uint8(0))
	f.Fuzz(func(t *testing.T, v6 bool, bits uint8, a1, b1, a2, b2, gw uint16, blockExtra uint8) {
		base, maxBits := netip.MustParseAddr("10.1.2.0"), 32
		if v6 {
			base, maxBits = netip.MustParseAddr("fd00::aa00"), 128
		}
		prefixBits := maxBits - int(bits)%10 // at most 1024 addresses
		prefix := netip.PrefixFrom(base, prefixBits).Masked()
		at := func(off uint16) netip.Addr {
			return addrFromValue(addrValue(prefix.Addr()).Add(CountOf(uint64(off)%1100)), base)
		}
		exclude := []Range{ordered(at(a1), at(b1)), ordered(at(a2), at(b2))}
		gateway := at(gw)
		s := NewAddressSpace(prefix, exclude, gateway)

		blockBits := min(prefixBits+int(blockExtra)%4, maxBits)
		want, wantInBlock := 0, map[netip.Prefix]int{}
		for a := prefix.Addr(); prefix.Contains(a); a = a.Next() {
			usable := naiveUsable(prefix, exclude, gateway, a)
			if usable != s.Contains(a) {
				t.Fatalf("Contains(%s) = %v, brute force says %v", a, s.Contains(a), usable)
			}
			if usable != (s.WhyUnusable(a) == "") {
				t.Fatalf("WhyUnusable(%s) = %q, brute force says usable=%v", a, s.WhyUnusable(a), usable)
			}
			if usable {
				want++
				wantInBlock[netip.PrefixFrom(a, blockBits).Masked()]++
			}
		}
		if got := s.Capacity(); got != CountOf(uint64(want)) {
			t.Fatalf("Capacity() of %s minus %v and %s = %s, brute force says %d", prefix, exclude, gateway, got, want)
		}
		walked := 0
		for a, ok := s.NextIn(prefix, prefix.Addr()); ok; a, ok = s.NextIn(prefix, a.Next()) {
			walked++
		}
		if walked != want {
			t.Fatalf("NextIn walked %d addresses, brute force says %d", walked, want)
		}
		for block, n := range wantInBlock {
			if got := s.CountIn(block); got != CountOf(uint64(n)) {
				t.Fatalf("CountIn(%s) = %s, brute force says %d", block, got, n)
			}
		}
	})
}

func ordered(a, b netip.Addr) Range {
	if b.Less(a) {
		a, b = b, a
	}
	return Range{First: a, Last: b}
}

// naiveUsable restates the rules of usable addresses one address at a time.
func naiveUsable(prefix netip.Prefix, exclude []Range, gateway, a netip.Addr) bool {
	if !prefix.Contains(a) || a == gateway {
		return false
	}
	for _, r := range exclude {
		if r.Contains(a) {
			return false
		}
	}
	first := prefix.Addr()
	if a == first && (a.Is4() && prefix.Bits() < 31 || a.Is6() && prefix.Bits() < 127) {
		return false
	}
	if a.Is4() && prefix.Bits() < 31 && !prefix.Contains(a.Next()) {
		return false
	}
	return true
}

func TestBlockAt(t *testing.T) {
	tests := []struct {
		cidr string
		bits int32
		n    uint64
		want string
	}{
		{cidr: "10.32.0.0/12", bits: 24, n: 0, want: "10.32.0.0/24"},
		{cidr: "10.32.0.0/12", bits: 24, n: 257, want: "10.33.1.0/24"},
		{cidr: "10.32.0.0/12", bits: 24, n: 4096 + 3, want: "10.32.3.0/24"},
		{cidr: "fd00::/48", bits: 120, n: 1<<64 - 1, want: "fd00::ff:ffff:ffff:ffff:ff00/120"},
		{cidr: "fd00::/64", bits: 64, n: 12345, want: "fd00::/64"},
		{cidr: "fd00::/8", bits: 120, n: 1, want: "fd00::100/120"},
	}
	for _, tt := range tests {
		l := mustLayout(t, tt.cidr, int(tt.bits))
		if got := l.BlockAt(tt.n).String(); got != tt.want {
			t.Errorf("BlockAt(%d) of %s/%d = %s, want %s", tt.n, tt.cidr, tt.bits, got, tt.want)
		}
	}
}
