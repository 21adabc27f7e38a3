package allocator

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/ipkeeper/ipkeeper/api/ipspace"
	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
	"github.com/ipkeeper/ipkeeper/cni/ipamtest"
)

// nodeLister lists a node's claims, as the plugin does before it allocates.
type nodeLister interface {
	NodeClaims(ctx context.Context, node string) ([]ipamv1alpha1.IPClaim, error)
}

// testNode is a node with its own store view and cursor, as one host.
type testNode struct {
	t      *testing.T
	alloc  *Allocator
	lister nodeLister
	pool   *ipamv1alpha1.IPPool
	layout ipspace.Layout
	cursor netip.Addr
	seq    int
}

func newPool(name string, spec ipamv1alpha1.IPPoolSpec) *ipamv1alpha1.IPPool {
	return &ipamv1alpha1.IPPool{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec}
}

func newNode(t *testing.T, store interface {
	Store
	nodeLister
}, name string, pool *ipamv1alpha1.IPPool) *testNode {
	return &testNode{t: t, alloc: &Allocator{Store: store, Node: name}, lister: store, pool: pool, layout: layoutOf(t, pool.Spec)}
}

// request builds the request of the node's next container, as the plugin
// does under the node's lock.
func (n *testNode) request() Request {
	n.t.Helper()
	claims, err := n.lister.NodeClaims(context.Background(), n.alloc.Node)
	if err != nil {
		n.t.Fatal(err)
	}
	n.seq++
	return Request{
		Pool: n.pool, Layout: n.layout, Cursor: n.cursor, NodeClaims: claims,
		Owner: ipamv1alpha1.ClaimOwner{ContainerID: fmt.Sprintf("%s-c%d", n.alloc.Node, n.seq), Interface: "eth0"},
	}
}

// allocate reserves one address and moves the node's cursor to it.
func (n *testNode) allocate() (netip.Addr, error) {
	n.t.Helper()
	claim, err := n.alloc.Allocate(context.Background(), n.request())
	if err != nil {
		return netip.Addr{}, err
	}
	n.cursor = netip.MustParseAddr(claim.Spec.Address)
	return n.cursor, nil
}

func (n *testNode) mustAllocate() netip.Addr {
	n.t.Helper()
	a, err := n.allocate()
	if err != nil {
		n.t.Fatalf("node %s: %v", n.alloc.Node, err)
	}
	return a
}

func TestAllocateSkipsUnusableAddressesThenExhausts(t *testing.T) {
	pool := newPool("small", ipamv1alpha1.IPPoolSpec{CIDR: "10.0.0.0/28", Gateway: "10.0.0.1", Exclude: []string{"10.0.0.2-10.0.0.4", "10.0.0.9"}})
	node := newNode(t, NewFake(), "node-a", pool)
	var got []string
	for range 9 {
		got = append(got, node.mustAllocate().String())
	}
	want := "10.0.0.5 10.0.0.6 10.0.0.7 10.0.0.8 10.0.0.10 10.0.0.11 10.0.0.12 10.0.0.13 10.0.0.14"
	if strings.Join(got, " ") != want {
		t.Fatalf("allocated %v, want %s (no network, broadcast, gateway or excluded address)", got, want)
	}
	_, err := node.allocate()
	ipamtest.ExpectError(t, err, ErrExhausted, "pool small is exhausted (9/9 in use)")
}

func TestAllocateClaimsBlocksOnDemand(t *testing.T) {
	store := NewFake()
	pool := newPool("p", ipamv1alpha1.IPPoolSpec{CIDR: "10.0.0.0/26", BlockSize: ptr.To[int32](28)})
	node := newNode(t, store, "node-a", pool)
	first := node.mustAllocate()
	block := node.layout.BlockOf(first)
	for range 14 {
		if a := node.mustAllocate(); !block.Contains(a) {
			t.Fatalf("%s was taken outside the node's block %s before it was full", a, block)
		}
	}
	next := node.mustAllocate()
	if block.Contains(next) {
		t.Fatalf("block %s holds 16 addresses minus the network address; got a 16th: %s", block, next)
	}
	var blocks []string
	for _, name := range store.Names() {
		if strings.HasSuffix(name, "-28") {
			blocks = append(blocks, name)
		}
	}
	if len(blocks) != 2 {
		t.Fatalf("block claims = %v, want two", blocks)
	}
	claim, err := store.Get(context.Background(), ipspace.AddressClaimName(next))
	if err != nil {
		t.Fatal(err)
	}
	wantLabels := map[string]string{ipamv1alpha1.LabelPool: "p", ipamv1alpha1.LabelNode: "node-a", ipamv1alpha1.LabelBlock: ipspace.BlockClaimName(node.layout.BlockOf(next))}
	for k, v := range wantLabels {
		if claim.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, claim.Labels[k], v)
		}
	}
}

func TestBorrowingFollowsStrictAffinity(t *testing.T) {
	for _, strict := range []bool{true, false} {
		t.Run(fmt.Sprintf("strictAffinity=%v", strict), func(t *testing.T) {
			store := NewFake()
			pool := newPool("p", ipamv1alpha1.IPPoolSpec{CIDR: "10.0.0.0/27", BlockSize: ptr.To[int32](28), StrictAffinity: strict})
			a, b := newNode(t, store, "node-a", pool), newNode(t, store, "node-b", pool)
			bAddr := b.mustAllocate()
			for range 15 {
				a.mustAllocate()
			}
			got, err := a.allocate()
			if strict {
				ipamtest.ExpectError(t, err, ErrExhausted, "strictAffinity forbids borrowing")
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !b.layout.BlockOf(bAddr).Contains(got) {
				t.Fatalf("node-a borrowed %s, want an address of node-b's block %s", got, b.layout.BlockOf(bAddr))
			}
			claim, _ := store.Get(context.Background(), ipspace.AddressClaimName(got))
			if claim.Spec.Node != "node-a" || claim.Labels[ipamv1alpha1.LabelBlock] != ipspace.BlockClaimName(b.layout.BlockOf(bAddr)) {
				t.Fatalf("borrowed claim node %s, block label %s", claim.Spec.Node, claim.Labels[ipamv1alpha1.LabelBlock])
			}
			// node-b skips the borrowed address: the create arbitrates.
			for range 13 {
				if addr := b.mustAllocate(); addr == got {
					t.Fatalf("node-b was handed %s, which node-a holds", addr)
				}
			}
			_, err = b.allocate()
			ipamtest.ExpectError(t, err, ErrExhausted, "pool p is exhausted (30/30 in use)")
		})
	}
}

// TestHugePoolsAreNotScanned allocates from an IPv6 /64 and a /48 where the
// half of the pool holding the node's first block is excluded: the search
// must jump over 2^63 (or 2^79) addresses, and would never finish walking
// them. Only claiming a block lists the pool's blocks.
func TestHugePoolsAreNotScanned(t *testing.T) {
	for _, spec := range []ipamv1alpha1.IPPoolSpec{{CIDR: "fd00::/64"}, {CIDR: "fd00::/48"}} {
		t.Run(spec.CIDR, func(t *testing.T) {
			pool := netip.MustParsePrefix(spec.CIDR)
			start := layoutOf(t, spec).BlockAt(nodeHash("node-a")).Addr()
			spec.Exclude = []string{netip.PrefixFrom(start, pool.Bits()+1).Masked().String()}
			store := NewFake()
			node := newNode(t, store, "node-a", newPool("v6", spec))
			seen := map[netip.Addr]bool{}
			for range 600 {
				a := node.mustAllocate()
				if seen[a] || !node.layout.Contains(a) {
					t.Fatalf("%s handed out twice or unusable", a)
				}
				seen[a] = true
			}
			if store.Calls["PoolBlocks"] != 3 || store.Calls["BlockAddresses"] != 0 {
				t.Fatalf("listed the pool's blocks %d times and a block's addresses %d times; want 3 and 0 for 600 addresses in /120 blocks",
					store.Calls["PoolBlocks"], store.Calls["BlockAddresses"])
			}
			if creates := store.Calls["Create"]; creates != 603 {
				t.Fatalf("%d creates for 600 addresses and 3 blocks: a create failed where none should", creates)
			}
		})
	}
}

func TestReleasedAddressIsNotReusedAtOnce(t *testing.T) {
	store := NewFake()
	pool := newPool("p", ipamv1alpha1.IPPoolSpec{CIDR: "10.0.0.0/24"})
	node := newNode(t, store, "node-a", pool)
	first := node.mustAllocate()
	claim, _ := store.Get(context.Background(), ipspace.AddressClaimName(first))
	if err := store.Delete(context.Background(), claim); err != nil {
		t.Fatal(err)
	}
	if again := node.mustAllocate(); again == first {
		t.Fatalf("the address %s released a moment ago was handed out again", first)
	}
	node.cursor = netip.Addr{} // a lost cursor file only changes which free address is picked
	if a := node.mustAllocate(); a != first {
		t.Fatalf("without a cursor the first free address is %s, got %s", first, a)
	}
}

// TestFullNewBlockIsPassedOver: a block claimed with every usable address
// already held (exact requests made while it was free) does not end the
// search; the next free block is claimed.
func TestFullNewBlockIsPassedOver(t *testing.T) {
	store := NewFake()
	pool := newPool("p", ipamv1alpha1.IPPoolSpec{CIDR: "10.0.0.0/26", BlockSize: ptr.To[int32](28), StrictAffinity: true})
	node := newNode(t, store, "node-a", pool)
	first := node.layout.BlockAt(nodeHash("node-a"))
	other := newNode(t, store, "node-b", pool)
	for a, ok := node.layout.NextIn(first, first.Addr()); ok; a, ok = node.layout.NextIn(first, a.Next()) {
		req := other.request()
		req.Address = a
		if _, err := other.alloc.Allocate(context.Background(), req); err != nil {
			t.Fatal(err)
		}
	}
	got := node.mustAllocate()
	if first.Contains(got) {
		t.Fatalf("got %s, inside the full block %s", got, first)
	}
}

// TestOwnBlockIsAdopted: a block this node claimed in an ADD that failed
// afterwards, and that its list does not show yet, is used, not passed over
// for another.
func TestOwnBlockIsAdopted(t *testing.T) {
	store := NewFake()
	pool := newPool("p", ipamv1alpha1.IPPoolSpec{CIDR: "10.0.0.0/24", BlockSize: ptr.To[int32](28)})
	node := newNode(t, store, "node-a", pool)
	block := node.layout.BlockAt(nodeHash("node-a"))
	if err := store.Create(context.Background(), node.alloc.blockClaim(node.request(), block)); err != nil {
		t.Fatal(err)
	}
	req := node.request()
	req.NodeClaims = nil // the list missed the block
	claim, err := node.alloc.Allocate(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if a := netip.MustParseAddr(claim.Spec.Address); !block.Contains(a) {
		t.Fatalf("allocated %s outside the node's own block %s", a, block)
	}
	if blocks, _ := store.PoolBlocks(context.Background(), "p"); len(blocks) != 1 {
		t.Fatalf("blocks = %v, want only the adopted one", blocks)
	}
}

// TestBlockOfAnotherNodeIsNotUsed hands the node a list holding a block
// whose spec names another node (its node label lied, so the node's list
// by label found it): the node does not allocate in it.
func TestBlockOfAnotherNodeIsNotUsed(t *testing.T) {
	store := NewFake()
	pool := newPool("p", ipamv1alpha1.IPPoolSpec{CIDR: "10.0.0.0/24", BlockSize: ptr.To[int32](28)})
	node := newNode(t, store, "node-a", pool)
	other := newNode(t, store, "node-b", pool)
	foreign := other.alloc.blockClaim(other.request(), netip.MustParsePrefix("10.0.0.16/28"))
	if err := store.Create(context.Background(), foreign); err != nil {
		t.Fatal(err)
	}
	req := node.request()
	req.NodeClaims = append(req.NodeClaims, *foreign)
	claim, err := node.alloc.Allocate(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if a := netip.MustParseAddr(claim.Spec.Address); netip.MustParsePrefix("10.0.0.16/28").Contains(a) {
		t.Fatalf("node-a allocated %s inside node-b's block", a)
	}
}
