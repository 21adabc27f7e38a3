package perf

import (
	"context"
	"fmt"
	"net/netip"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/ipkeeper/ipkeeper/api/ipspace"
	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
	"github.com/ipkeeper/ipkeeper/cni/allocator"
	"github.com/ipkeeper/ipkeeper/test/harness"
)

// benchNode is the node every allocator benchmark allocates for.
const benchNode = "node-bench"

// warmPools are the pools of BenchmarkWarmAllocate, smallest first: the
// first is the baseline that benchstat's ratios refer to.
var warmPools = []struct{ name, cidr string }{
	{"v4-24", "10.0.0.0/24"},
	{"v4-16", "10.1.0.0/16"},
	{"v6-64", "fd00:1::/64"},
	{"v6-48", "fd00:2::/48"},
}

// fillLevels say how many of the node block's usable addresses are held
// before the benchmark allocates, given the block's capacity.
var fillLevels = []struct {
	name string
	held func(capacity int) int
}{
	{"empty", func(int) int { return 0 }},
	{"half", func(c int) int { return c / 2 }},
	{"nearly-full", func(c int) int { return c - 1 }},
}

// BenchmarkWarmAllocate measures the design's central claim on the pure
// allocator: once a node holds a block with a free address, one allocation
// costs the same whatever the size of the pool (IPv4 /24 to IPv6 /48) and
// however full the node's block is. Each iteration allocates one address
// and releases it again, so the state is the same for every iteration.
//
// Compare pools with `benchstat -col /pool` and fill levels with
// `benchstat -col /fill`; pool=v4-24/fill=empty is the baseline.
func BenchmarkWarmAllocate(b *testing.B) {
	for _, p := range warmPools {
		for _, f := range fillLevels {
			b.Run(fmt.Sprintf("pool=%s/fill=%s", p.name, f.name), func(b *testing.B) {
				benchmarkWarm(b, p.cidr, f.held)
			})
		}
	}
}

func benchmarkWarm(b *testing.B, cidr string, held func(int) int) {
	pool := benchPool(b, cidr, nil)
	layout := mustLayout(b, pool)
	block := layout.BlockAt(0)
	store, req := warmRequest(b, pool, layout, block, held)
	alloc := &allocator.Allocator{Store: store, Node: benchNode}
	ctx := context.Background()
	for b.Loop() {
		claim, err := alloc.Allocate(ctx, req)
		if err != nil {
			b.Fatal(err)
		}
		if !block.Contains(netip.MustParseAddr(claim.Spec.Address)) {
			b.Fatalf("allocated %s outside the node's block %s: the benchmark is not on the warm path", claim.Spec.Address, block)
		}
		if err := store.Delete(ctx, claim); err != nil {
			b.Fatal(err)
		}
	}
}

// warmRequest returns a store in which the node holds block and the number
// of its usable addresses that held asks for, and the request of the node's
// next ADD. The request carries the node's claims as the plugin lists them
// and the node's round-robin cursor:
//   - with no address held there is no cursor yet (the block's first ADD);
//   - with the first k addresses held the cursor is the k-th, so the next
//     address is free (the state after k ADDs and no DEL);
//   - with every address but one held, the free one lies just behind the
//     cursor, so the search walks the whole block before it finds it: the
//     longest search a block allows.
func warmRequest(b *testing.B, pool *ipamv1alpha1.IPPool, layout ipspace.Layout, block netip.Prefix, held func(int) int) (*allocator.Fake, allocator.Request) {
	b.Helper()
	usable := usableIn(layout, block)
	n := held(len(usable))
	claims := []*ipamv1alpha1.IPClaim{harness.BlockClaim(pool.Name, benchNode, block.String())}
	// claimOf is the Address claim of the node's i-th container for addr.
	claimOf := func(addr netip.Addr, i int) *ipamv1alpha1.IPClaim {
		return harness.AddressClaim(pool.Name, benchNode, addr.String(), block.Bits(), harness.RuntimeOwner(fmt.Sprintf("c-%d", i)))
	}
	var cursor netip.Addr
	switch {
	case n == 0:
	case n == len(usable)-1:
		free := len(usable) / 2
		for i, addr := range usable {
			if i != free {
				claims = append(claims, claimOf(addr, i))
			}
		}
		cursor = usable[free+1]
	default:
		for i, addr := range usable[:n] {
			claims = append(claims, claimOf(addr, i))
		}
		cursor = usable[n-1]
	}
	store := allocator.NewFake(claims...)
	nodeClaims := make([]ipamv1alpha1.IPClaim, len(claims))
	for i, c := range claims {
		nodeClaims[i] = *c
	}
	return store, allocator.Request{
		Pool: pool, Layout: layout, Cursor: cursor, NodeClaims: nodeClaims,
		Owner: ipamv1alpha1.ClaimOwner{ContainerID: "c-bench", Interface: "eth0"},
	}
}

// claimBlockCases are how many of the 4096 /24 blocks of a /12 other nodes
// hold when the benchmark's node claims one.
var claimBlockCases = []int{0, 1000, 4000}

// BenchmarkClaimBlock measures the one step of an ADD allowed to read
// something that grows with the cluster: a node without a free address in
// its blocks (here, without blocks: its first ADD in the pool) claims a new
// block, which lists every block of the pool. The pool is a /12 of /24
// blocks (4096); other nodes hold 0, 1000 or 4000 of them, spread evenly,
// so the search for a free block from the node's starting point is short
// and the listing dominates. Each iteration claims a block and an address
// in it and releases both.
//
// Compare with `benchstat -col /taken`; the warm baseline is
// BenchmarkWarmAllocate/pool=v4-24/fill=empty.
func BenchmarkClaimBlock(b *testing.B) {
	for _, taken := range claimBlockCases {
		b.Run(fmt.Sprintf("taken=%d", taken), func(b *testing.B) {
			benchmarkClaimBlock(b, taken)
		})
	}
}

func benchmarkClaimBlock(b *testing.B, taken int) {
	pool := benchPool(b, "10.16.0.0/12", ptr.To[int32](24))
	layout := mustLayout(b, pool)
	store := allocator.NewFake(otherNodesBlocks(b, pool, layout, taken)...)
	alloc := &allocator.Allocator{Store: store, Node: benchNode}
	req := allocator.Request{Pool: pool, Layout: layout, Owner: ipamv1alpha1.ClaimOwner{ContainerID: "c-bench", Interface: "eth0"}}
	ctx := context.Background()
	for b.Loop() {
		claim, err := alloc.Allocate(ctx, req)
		if err != nil {
			b.Fatal(err)
		}
		block, err := store.Get(ctx, claim.Labels[ipamv1alpha1.LabelBlock])
		if err != nil || block.Spec.Node != benchNode {
			b.Fatalf("the allocation did not claim a block of its own (%v): the benchmark is not on the block path", err)
		}
		if err := store.Delete(ctx, claim); err != nil {
			b.Fatal(err)
		}
		if err := store.Delete(ctx, block); err != nil {
			b.Fatal(err)
		}
	}
}

// otherNodesBlocks returns Block claims of other nodes for taken of the
// pool's blocks, spread evenly over the pool.
func otherNodesBlocks(b *testing.B, pool *ipamv1alpha1.IPPool, layout ipspace.Layout, taken int) []*ipamv1alpha1.IPClaim {
	b.Helper()
	total, ok := layout.BlockCapacity().Uint64()
	if !ok || total < uint64(taken) {
		b.Fatalf("pool %s has %s blocks, fewer than %d", pool.Spec.CIDR, layout.BlockCapacity(), taken)
	}
	var claims []*ipamv1alpha1.IPClaim
	for i := range total {
		// Block i is taken when the running share taken*i/total steps up.
		if (i+1)*uint64(taken)/total != i*uint64(taken)/total {
			claims = append(claims, harness.BlockClaim(pool.Name, fmt.Sprintf("node-%d", i), layout.BlockAt(i).String()))
		}
	}
	return claims
}

func benchPool(b *testing.B, cidr string, blockSize *int32) *ipamv1alpha1.IPPool {
	b.Helper()
	return &ipamv1alpha1.IPPool{
		ObjectMeta: metav1.ObjectMeta{Name: "bench"},
		Spec:       ipamv1alpha1.IPPoolSpec{CIDR: cidr, BlockSize: blockSize},
	}
}

func mustLayout(b *testing.B, pool *ipamv1alpha1.IPPool) ipspace.Layout {
	b.Helper()
	layout, err := pool.Spec.Layout()
	if err != nil {
		b.Fatal(err)
	}
	return layout
}

// usableIn returns the usable addresses of block, in order.
func usableIn(layout ipspace.Layout, block netip.Prefix) []netip.Addr {
	var out []netip.Addr
	for a, ok := layout.NextIn(block, block.Addr()); ok; a, ok = layout.NextIn(block, a.Next()) {
		out = append(out, a)
		if !a.Next().IsValid() {
			break
		}
	}
	return out
}
