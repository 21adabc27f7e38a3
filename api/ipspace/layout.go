package ipspace

import (
	"fmt"
	"net/netip"
)

// Default block sizes: a /24 holds 254 pods (after a node's share of the
// network and broadcast addresses), well above the kubelet's default of 110
// pods per node; a /120 is the same 256 addresses in IPv6.
const (
	DefaultBlockSizeIPv4 = 24
	DefaultBlockSizeIPv6 = 120
)

// Layout is a pool's usable addresses and the aligned node blocks they are
// divided into.
type Layout struct {
	AddressSpace
	// BlockBits is the prefix length of a node block.
	BlockBits int
}

// NewLayout returns the usable addresses of prefix minus exclude and gateway
// (as NewAddressSpace), divided into aligned blocks of blockBits.
func NewLayout(prefix netip.Prefix, exclude []Range, gateway netip.Addr, blockBits int) Layout {
	return Layout{AddressSpace: NewAddressSpace(prefix, exclude, gateway), BlockBits: blockBits}
}

// DefaultBlockSize returns the block size of a pool that sets none: the
// family's default, never shorter than the prefix itself.
func DefaultBlockSize(prefix netip.Prefix) int {
	bits := DefaultBlockSizeIPv4
	if prefix.Addr().Is6() {
		bits = DefaultBlockSizeIPv6
	}
	return max(bits, prefix.Bits())
}

// BlockOf returns the block that holds a.
func (l Layout) BlockOf(a netip.Addr) netip.Prefix {
	return netip.PrefixFrom(a, l.BlockBits).Masked()
}

// BlockCapacity returns the number of blocks the pool divides into.
func (l Layout) BlockCapacity() Count {
	return powerOfTwo(l.BlockBits - l.prefix.Bits())
}

// CheckBlock says why p is not one of the pool's blocks, or returns nil.
func (l Layout) CheckBlock(p netip.Prefix) error {
	switch {
	case p.Bits() != l.BlockBits:
		return fmt.Errorf("block %s must have the pool's block size /%d", p, l.BlockBits)
	case !l.prefix.Contains(p.Addr()):
		return fmt.Errorf("block %s lies outside the pool's %s", p, l.prefix)
	case p.Masked() != p:
		return fmt.Errorf("block %s is not aligned: its first address is %s", p, p.Masked().Addr())
	}
	return nil
}

// NextFreeBlock returns the first block, searching from the one holding start
// and wrapping around the pool once, that has a usable address and for which
// taken is false. Blocks with no usable address are jumped over, not visited.
func (l Layout) NextFreeBlock(start netip.Addr, taken func(netip.Prefix) bool) (netip.Prefix, bool) {
	whole := prefixRange(l.prefix)
	if !l.prefix.Contains(start) {
		start = whole.First
	}
	first := l.BlockOf(start).Addr()
	from, wrapped := first, false
	for {
		a, ok := l.NextIn(l.prefix, from)
		if ok && wrapped && !a.Less(first) {
			return netip.Prefix{}, false // back where the search began
		}
		if !ok {
			if wrapped {
				return netip.Prefix{}, false
			}
			from, wrapped = whole.First, true
			continue
		}
		block := l.BlockOf(a)
		if !taken(block) {
			return block, true
		}
		from = prefixRange(block).Last.Next()
		if !from.IsValid() || !l.prefix.Contains(from) {
			if wrapped {
				return netip.Prefix{}, false
			}
			from, wrapped = whole.First, true
		}
	}
}

// BlockAt returns block number n of the pool, counting from its first block
// and wrapping around the number of blocks. Nodes start their search for a
// free block at BlockAt(hash of the node name), so that nodes claiming
// blocks at the same moment seldom race for the same one.
func (l Layout) BlockAt(n uint64) netip.Prefix {
	indexBits := l.BlockBits - l.prefix.Bits()
	if indexBits < 64 {
		n &= 1<<indexBits - 1
	}
	hostBits := l.prefix.Addr().BitLen() - l.BlockBits
	first := addrValue(l.prefix.Addr())
	return netip.PrefixFrom(addrFromValue(first.Add(CountOf(n).lsh(hostBits)), l.prefix.Addr()), l.BlockBits)
}
