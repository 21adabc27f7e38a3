package allocator

import (
	"context"
	"errors"
	"net/netip"
	"testing"

	"k8s.io/utils/ptr"

	"github.com/ipkeeper/ipkeeper/api/ipspace"
	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
	"github.com/ipkeeper/ipkeeper/cni/ipamtest"
)

func dualStack(t *testing.T, store *Fake) (v4, v6 *testNode) {
	v4 = newNode(t, store, "node-a", newPool("v4", ipamv1alpha1.IPPoolSpec{CIDR: "10.0.0.0/24"}))
	v6 = newNode(t, store, "node-a", newPool("v6", ipamv1alpha1.IPPoolSpec{CIDR: "fd00::/64"}))
	return v4, v6
}

// requests builds one request per family for the same container interface.
func requests(v4, v6 *testNode) [][]Request {
	r4, r6 := v4.request(), v6.request()
	r6.Owner = r4.Owner
	return [][]Request{{r4}, {r6}}
}

func TestAllocateAllRollsBackHalfDoneADD(t *testing.T) {
	store := NewFake()
	refused := errors.New("admission webhook refused the claim")
	store.FailCreate = func(c *ipamv1alpha1.IPClaim) error {
		if c.Spec.Pool == "v6" && c.Spec.Type == ipamv1alpha1.ClaimTypeAddress {
			return refused
		}
		return nil
	}
	v4, v6 := dualStack(t, store)
	_, err := v4.alloc.AllocateAll(context.Background(), requests(v4, v6))
	if !errors.Is(err, refused) {
		t.Fatalf("error = %v, want the IPv6 failure", err)
	}
	for _, name := range store.Names() {
		if c, _ := store.Get(context.Background(), name); c.Spec.Type == ipamv1alpha1.ClaimTypeAddress {
			t.Fatalf("claim %s (%s) survived the failed ADD", name, c.Spec.Address)
		}
	}
}

// TestRefusedExactAddressClaimsNoBlock asks, on a node with no block, for
// a dynamic IPv4 address and an exact IPv6 one that cannot be had (the
// gateway, then an address another pod holds): the ADD fails and leaves
// no claim at all, not even the IPv4 block a dynamic allocation beside it
// would have claimed.
func TestRefusedExactAddressClaimsNoBlock(t *testing.T) {
	for _, c := range []struct {
		addr    string
		kind    error
		message string
	}{
		{"fd00::1", ErrAddressUnusable, "is the gateway"},
		{"fd00::77", ErrAddressHeld, "is held by pod default/db-0"},
	} {
		store := NewFake()
		v4 := newNode(t, store, "node-a", newPool("v4", ipamv1alpha1.IPPoolSpec{CIDR: "10.0.0.0/24"}))
		v6pool := newPool("v6", ipamv1alpha1.IPPoolSpec{CIDR: "fd00::/64", Gateway: "fd00::1"})
		v6 := newNode(t, store, "node-a", v6pool)
		holder := newNode(t, store, "node-b", v6pool).request()
		holder.Owner.Namespace, holder.Owner.Name, holder.Address = "default", "db-0", netip.MustParseAddr("fd00::77")
		if _, err := v6.alloc.Allocate(context.Background(), holder); err != nil {
			t.Fatal(err)
		}
		before := len(store.Names())

		reqs := requests(v4, v6)
		reqs[1][0].Address = netip.MustParseAddr(c.addr)
		_, err := v4.alloc.AllocateAll(context.Background(), reqs)
		ipamtest.ExpectError(t, err, c.kind, c.message)
		if after := store.Names(); len(after) != before {
			t.Errorf("asking for %s: the failed ADD left claims: %v", c.addr, after)
		}
	}
}

func TestAllocateAllIsIdempotent(t *testing.T) {
	store := NewFake()
	v4, v6 := dualStack(t, store)
	reqs := requests(v4, v6)
	first, err := v4.alloc.AllocateAll(context.Background(), reqs)
	if err != nil {
		t.Fatal(err)
	}
	creates := store.Calls["Create"]
	again := requests(v4, v6)
	for i := range again {
		again[i][0].Owner = reqs[0][0].Owner
	}
	second, err := v4.alloc.AllocateAll(context.Background(), again)
	if err != nil {
		t.Fatal(err)
	}
	if len(second) != 2 || second[0].Name != first[0].Name || second[1].Name != first[1].Name {
		t.Fatalf("repeated ADD returned %v, first returned %v", names(second), names(first))
	}
	if store.Calls["Create"] != creates {
		t.Fatalf("repeated ADD created %d claims", store.Calls["Create"]-creates)
	}
}

func names(claims []*ipamv1alpha1.IPClaim) []string {
	var out []string
	for _, c := range claims {
		out = append(out, c.Name)
	}
	return out
}

func TestAllocateExactAddress(t *testing.T) {
	store := NewFake()
	pool := newPool("p", ipamv1alpha1.IPPoolSpec{CIDR: "10.0.0.0/24", Gateway: "10.0.0.1"})
	a, b := newNode(t, store, "node-a", pool), newNode(t, store, "node-b", pool)
	req := a.request()
	req.Owner.Namespace, req.Owner.Name = "default", "db-0"
	req.Address = netip.MustParseAddr("10.0.0.77")
	claim, err := a.alloc.Allocate(context.Background(), req)
	if err != nil || claim.Spec.Address != "10.0.0.77" {
		t.Fatalf("exact allocation = %v, %v", claim, err)
	}
	if again, err := a.alloc.Allocate(context.Background(), req); err != nil || again.UID != claim.UID {
		t.Fatalf("repeated exact allocation = %v, %v; want the same claim", again, err)
	}
	other := b.request()
	other.Address = req.Address
	_, err = b.alloc.Allocate(context.Background(), other)
	ipamtest.ExpectError(t, err, ErrAddressHeld, "address 10.0.0.77 asked for in annotation ipam.ipkeeper.dev/ips is held by pod default/db-0")

	for addr, why := range map[string]string{"10.0.0.1": "the gateway", "10.0.0.255": "the broadcast address", "10.0.1.1": "outside 10.0.0.0/24"} {
		other.Address = netip.MustParseAddr(addr)
		_, err = b.alloc.Allocate(context.Background(), other)
		ipamtest.ExpectError(t, err, ErrAddressUnusable, why)
	}
}

// racingStore lets another node win the first block this node tries, the
// way two nodes claiming at the same moment race on the API server.
type racingStore struct {
	*Fake
	raced bool
}

func (r *racingStore) Create(ctx context.Context, claim *ipamv1alpha1.IPClaim) error {
	if claim.Spec.Type == ipamv1alpha1.ClaimTypeBlock && !r.raced {
		r.raced = true
		rival := claim.DeepCopy()
		rival.Spec.Node = "node-b"
		if err := r.Fake.Create(ctx, rival); err != nil {
			return err
		}
	}
	return r.Fake.Create(ctx, claim)
}

func TestBlockRaceIsArbitratedByCreate(t *testing.T) {
	store := &racingStore{Fake: NewFake()}
	pool := newPool("p", ipamv1alpha1.IPPoolSpec{CIDR: "10.0.0.0/24", BlockSize: ptr.To[int32](26)})
	node := newNode(t, store, "node-a", pool)
	addr := node.mustAllocate()
	rival, err := store.Get(context.Background(), ipspace.BlockClaimName(node.layout.BlockOf(addr)))
	if err != nil {
		t.Fatal(err)
	}
	if rival.Spec.Node != "node-a" {
		t.Fatalf("node-a allocated %s inside node-b's block", addr)
	}
	blocks, _ := store.PoolBlocks(context.Background(), "p")
	if len(blocks) != 2 {
		t.Fatalf("blocks = %v, want node-b's and node-a's", blocks)
	}
}

func TestAllocateAllFallsBackToTheNextPoolOfAFamily(t *testing.T) {
	store := NewFake()
	full := newNode(t, store, "node-a", newPool("full", ipamv1alpha1.IPPoolSpec{CIDR: "10.0.0.0/30"}))
	spare := newNode(t, store, "node-a", newPool("spare", ipamv1alpha1.IPPoolSpec{CIDR: "10.1.0.0/24"}))
	full.mustAllocate()
	full.mustAllocate()
	claims, err := full.alloc.AllocateAll(context.Background(), [][]Request{{full.request(), spare.request()}})
	if err != nil {
		t.Fatal(err)
	}
	if claims[0].Spec.Pool != "spare" {
		t.Fatalf("allocated from %s, want the spare pool once the first is exhausted", claims[0].Spec.Pool)
	}
	_, err = full.alloc.AllocateAll(context.Background(), [][]Request{{full.request()}})
	ipamtest.ExpectError(t, err, ErrExhausted, "pool full is exhausted (2/2 in use)")
}

// TestStaleListDoesNotResurrectADeletedClaim: after a DEL, the node's list
// may still show the deleted claim; a new ADD of the same interface must
// not return it as if it were still reserved.
func TestStaleListDoesNotResurrectADeletedClaim(t *testing.T) {
	store := NewFake()
	v4, _ := dualStack(t, store)
	req := v4.request()
	first, err := v4.alloc.Allocate(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	stale := v4.request() // still shows the claim
	stale.Owner = req.Owner
	if err := store.Delete(context.Background(), first); err != nil {
		t.Fatal(err)
	}
	claims, err := v4.alloc.AllocateAll(context.Background(), [][]Request{{stale}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Get(context.Background(), claims[0].Name); err != nil {
		t.Fatalf("the ADD returned %s, which no claim holds: %v", claims[0].Name, err)
	}
}

// TestRollbackKeepsClaimsOfEarlierADDs: when one family fails, only what
// this ADD created is released, not the claim an earlier ADD of the same
// interface made.
func TestRollbackKeepsClaimsOfEarlierADDs(t *testing.T) {
	store := NewFake()
	v4, v6 := dualStack(t, store)
	reqs := requests(v4, v6)
	reqs[0][0].Address = netip.MustParseAddr("10.0.0.77")
	earlier, err := v4.alloc.Allocate(context.Background(), reqs[0][0])
	if err != nil {
		t.Fatal(err)
	}
	reqs[0][0].NodeClaims = nil // as if the list missed it: the create finds it
	store.FailCreate = func(c *ipamv1alpha1.IPClaim) error {
		if c.Spec.Pool == "v6" {
			return errors.New("refused")
		}
		return nil
	}
	if _, err := v4.alloc.AllocateAll(context.Background(), reqs); err == nil {
		t.Fatal("the ADD succeeded although IPv6 failed")
	}
	if _, err := store.Get(context.Background(), earlier.Name); err != nil {
		t.Fatalf("the rollback released %s, which an earlier ADD made: %v", earlier.Name, err)
	}
}
