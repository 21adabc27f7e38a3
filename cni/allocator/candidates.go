package allocator

import (
	"iter"
	"net/netip"
	"slices"

	"github.com/ipkeeper/ipkeeper/api/ipspace"
)

// roundRobin yields the usable addresses of blocks that are not in held,
// starting right after cursor and wrapping around once, so that an address
// just released is the last to be handed out again (a pod that restarts
// quickly must not find its old address on another pod). blocks must be
// sorted. A cursor outside the blocks starts at the first block.
func roundRobin(layout ipspace.Layout, blocks []netip.Prefix, held map[netip.Addr]bool, cursor netip.Addr) iter.Seq[netip.Addr] {
	return func(yield func(netip.Addr) bool) {
		none := netip.Addr{}
		start := slices.IndexFunc(blocks, func(b netip.Prefix) bool { return b.Contains(cursor) })
		if start < 0 {
			for _, block := range blocks {
				if !yieldFree(layout, block, none, none, held, yield) {
					return
				}
			}
			return
		}
		// The cursor's block after the cursor, the other blocks in order,
		// then the cursor's block up to the cursor.
		if next := cursor.Next(); next.IsValid() && blocks[start].Contains(next) {
			if !yieldFree(layout, blocks[start], next, none, held, yield) {
				return
			}
		}
		for i := 1; i < len(blocks); i++ {
			if !yieldFree(layout, blocks[(start+i)%len(blocks)], none, none, held, yield) {
				return
			}
		}
		yieldFree(layout, blocks[start], none, cursor, held, yield)
	}
}

// yieldFree yields the usable addresses of block from from (or the block's
// start) through last (or the block's end) that are not held. It returns
// false when the consumer stopped.
func yieldFree(layout ipspace.Layout, block netip.Prefix, from, last netip.Addr, held map[netip.Addr]bool, yield func(netip.Addr) bool) bool {
	if !from.IsValid() {
		from = block.Addr()
	}
	for a, ok := layout.NextIn(block, from); ok; a, ok = layout.NextIn(block, a.Next()) {
		if last.IsValid() && last.Less(a) {
			return true
		}
		if held[a] {
			continue
		}
		if !yield(a) {
			return false
		}
		if !a.Next().IsValid() {
			return true
		}
	}
	return true
}
