package allocator

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"testing"

	"k8s.io/utils/ptr"

	"github.com/ipkeeper/ipkeeper/api/ipspace"
	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
	"github.com/ipkeeper/ipkeeper/cni/ipamtest"
)

// borrowBlocks is the number of /28 blocks of the /22 pool the borrowing
// tests use: more than maxBorrowBlocks, so that the cap shows.
const borrowBlocks = 64

// fullyClaimedPool returns a store in which every block of a /22 of /28
// blocks is claimed: node-a's own block (the one its search starts at) is
// full, and the block offset blocks after it, in node-a's search order,
// belongs to node-<offset> and holds held(offset) of its usable addresses,
// all of them when held returns -1. It also returns node-a, and its block's
// index.
func fullyClaimedPool(t *testing.T, spec ipamv1alpha1.IPPoolSpec, held func(offset int) int) (*Fake, *testNode, uint64) {
	t.Helper()
	store := NewFake()
	node := newNode(t, store, "node-a", newPool("p", spec))
	own := nodeHash("node-a") % borrowBlocks
	for offset := range borrowBlocks {
		owner, n := fmt.Sprintf("node-%d", offset), -1
		if offset > 0 {
			n = held(offset)
		} else {
			owner = "node-a"
		}
		claimBlock(t, store, node, owner, node.layout.BlockAt(own+uint64(offset)), n)
	}
	return store, node, own
}

// claimBlock makes owner claim block and the first n of its usable
// addresses (all of them when n is -1), as owner's plugin would.
func claimBlock(t *testing.T, store *Fake, like *testNode, owner string, block netip.Prefix, n int) {
	t.Helper()
	alloc := &Allocator{Store: store, Node: owner}
	req := like.request()
	if err := store.Create(context.Background(), alloc.blockClaim(req, block)); err != nil {
		t.Fatal(err)
	}
	for a, ok := like.layout.NextIn(block, block.Addr()); ok && n != 0; a, ok = like.layout.NextIn(block, a.Next()) {
		if err := store.Create(context.Background(), alloc.addressClaim(req, a)); err != nil {
			t.Fatal(err)
		}
		n--
	}
	store.Calls = map[string]int{}
}

// offsetsFrom returns the offsets of the blocks from first to the last
// before node-a's block again.
func offsetsFrom(first int) []int {
	var out []int
	for o := first; o < borrowBlocks; o++ {
		out = append(out, o)
	}
	return out
}

// either returns yes when cond holds, else no.
func either(cond bool, yes, no int) int {
	if cond {
		return yes
	}
	return no
}

func TestBorrowingReadsOneBlockAtATime(t *testing.T) {
	spec := ipamv1alpha1.IPPoolSpec{CIDR: "10.0.0.0/22", BlockSize: ptr.To[int32](28)}
	tests := []struct {
		name string
		// held is how many addresses each block after node-a's holds
		// (-1: all).
		held func(offset int) int
		// exclude are the offsets of blocks excluded whole.
		exclude []int
		// wantReads are the offsets of the blocks whose claims are read.
		wantReads []int
		// wantErr is the error expected instead of an address in the last
		// block read.
		wantErr string
	}{
		{name: "the next block has a free address", held: func(int) int { return 1 }, wantReads: []int{1}},
		{
			name:      "full blocks are passed over",
			held:      func(o int) int { return either(o <= 3, -1, 1) },
			wantReads: []int{1, 2, 3, 4},
		},
		{name: "a block without usable address is not read", held: func(int) int { return 0 }, exclude: []int{1}, wantReads: []int{2}},
		{
			name:      "at most maxBorrowBlocks blocks are read",
			held:      func(o int) int { return either(o == borrowBlocks-1, 1, -1) },
			wantReads: []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
			wantErr:   "pool p has no free block, and no free address in the blocks of node node-a or in the 16 blocks of other nodes it looked at (of 64 in the pool); its next ADD looks at the blocks after them, and the pool's status says how many addresses are free: add a pool or free addresses",
		},
		{
			name:      "a pool whose every block was read is exhausted",
			held:      func(int) int { return -1 },
			exclude:   offsetsFrom(maxBorrowBlocks + 1),
			wantReads: []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
			wantErr:   "pool p is exhausted",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := *spec.DeepCopy()
			own := nodeHash("node-a") % borrowBlocks
			for _, o := range tt.exclude {
				spec.Exclude = append(spec.Exclude, layoutOf(t, spec).BlockAt(own+uint64(o)).String())
			}
			store, node, own := fullyClaimedPool(t, spec, tt.held)
			var wantReads []netip.Prefix
			for _, o := range tt.wantReads {
				wantReads = append(wantReads, node.layout.BlockAt(own+uint64(o)))
			}
			addr, err := node.allocate()
			if !slices.Equal(store.BlockReads, wantReads) {
				t.Errorf("read the claims of blocks %v, want %v", store.BlockReads, wantReads)
			}
			if store.Calls["BlockAddresses"] != len(wantReads) || store.Calls["NodeClaims"] != 1 || store.Calls["PoolBlocks"] != 1 {
				t.Errorf("calls %v: want one list of the node's claims, one of the pool's blocks, and one per block read", store.Calls)
			}
			if tt.wantErr != "" {
				ipamtest.ExpectError(t, err, ErrExhausted, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if last := wantReads[len(wantReads)-1]; !last.Contains(addr) {
				t.Fatalf("borrowed %s, want an address of %s, the last block read", addr, last)
			}
			claim, err := store.Get(context.Background(), ipspace.AddressClaimName(addr))
			if err != nil || claim.Spec.Node != "node-a" || claim.Labels[ipamv1alpha1.LabelBlock] != ipspace.BlockClaimName(node.layout.BlockOf(addr)) {
				t.Fatalf("borrowed claim %+v (%v): want node-a's, labelled with the block it lies in", claim, err)
			}
		})
	}
}

// TestBorrowingContinuesAfterTheLastBorrowedAddress: a node that borrowed
// starts its next search in the block it borrowed from, after the address
// it took, not back at its own place in the pool.
func TestBorrowingContinuesAfterTheLastBorrowedAddress(t *testing.T) {
	spec := ipamv1alpha1.IPPoolSpec{CIDR: "10.0.0.0/22", BlockSize: ptr.To[int32](28)}
	store, node, own := fullyClaimedPool(t, spec, func(o int) int { return either(o == 1, 10, 1) })
	first := node.mustAllocate()
	released, _ := store.Get(context.Background(), ipspace.AddressClaimName(first))
	if err := store.Delete(context.Background(), released); err != nil {
		t.Fatal(err)
	}
	next := node.layout.BlockAt(own + 1)
	for range 4 {
		store.BlockReads = nil
		a := node.mustAllocate()
		if !next.Contains(a) || !first.Less(a) || !slices.Equal(store.BlockReads, []netip.Prefix{next}) {
			t.Fatalf("after borrowing %s, borrowed %s reading blocks %v: want the addresses after it in %s, reading only that block",
				first, a, store.BlockReads, next)
		}
	}
}
