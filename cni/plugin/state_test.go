package plugin

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containernetworking/cni/pkg/skel"
	current "github.com/containernetworking/cni/pkg/types/100"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/ipkeeper/ipkeeper/api/ipspace"
	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
	"github.com/ipkeeper/ipkeeper/cni/ipamtest"
	"github.com/ipkeeper/ipkeeper/cni/nodestate"
)

// TestRememberedVersionsAreAskedForOnlyOfTheSamePool: an ADD lists the
// node's claims not older than the version the node remembers of the pool
// before it has read the pool, and keeps that list when the version was
// kept for the pool of the same UID (or before UIDs were kept). A version
// kept for a pool of another UID, as after the cluster was rebuilt under
// the node, is one the API server never issued and holds the read on until
// it gives up: the ADD abandons that list once it has read the pool, and
// lists consistently instead. Afterwards the node remembers this cluster's
// version, and forgets the versions of other pools that are newer.
func TestRememberedVersionsAreAskedForOnlyOfTheSamePool(t *testing.T) {
	const far = "987654321098"
	tests := []struct {
		name    string
		kept    nodestate.PoolState
		wantAsk []string
		// wantOther is the version the node still remembers of another
		// pool, which was far ahead of the version created.
		wantOther string
	}{
		{name: "same pool", kept: nodestate.PoolState{ResourceVersion: far, PoolUID: "uid-v4"}, wantAsk: []string{far}, wantOther: far},
		{name: "kept before UIDs were", kept: nodestate.PoolState{ResourceVersion: far}, wantAsk: []string{far}, wantOther: far},
		{name: "another cluster's pool", kept: nodestate.PoolState{ResourceVersion: far, PoolUID: "uid-v4-before"}, wantAsk: []string{far, ""}, wantOther: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := addCluster()
			f.Pools["v4"].UID = "uid-v4"
			if tt.kept.PoolUID != "" && tt.kept.PoolUID != "uid-v4" {
				f.Unreached = []string{far}
			}
			p := testPlugin(t, f, []string{"v4"}, nil)
			dir, err := nodestate.Open(p.Config.IPAM.DataDir, thisNode)
			if err != nil {
				t.Fatal(err)
			}
			for pool, st := range map[string]nodestate.PoolState{"v4": tt.kept, "spare": {ResourceVersion: far, PoolUID: "uid-spare-before"}} {
				if err := dir.SavePool(pool, st); err != nil {
					t.Fatal(err)
				}
			}
			add := func(id string) {
				if _, err := p.Add(context.Background(), &skel.CmdArgs{ContainerID: id, IfName: "eth0"}); err != nil {
					t.Fatal(err)
				}
			}
			add("c1")
			created := dir.Pool("v4")
			add("c2")
			if want := append(tt.wantAsk, created.ResourceVersion); !slices.Equal(f.NotOlderThan, want) {
				t.Errorf("the ADDs listed not older than %q, want %q", f.NotOlderThan, want)
			}
			if created.PoolUID != "uid-v4" || created.ResourceVersion == far || created.ResourceVersion == "" {
				t.Errorf("the node remembers %+v of the pool, want the version of its claim and the pool's UID", created)
			}
			if other := dir.Pool("spare").ResourceVersion; other != tt.wantOther {
				t.Errorf("the node remembers version %q of another pool, want %q", other, tt.wantOther)
			}
		})
	}
}

// TestNodeClaimsAreListedUnderTheLocksOfTheChosenPools: the list of the
// node's claims an ADD allocates with is made while the ADD holds the
// node's lock on every chosen pool, so that it holds every claim the
// node's other ADDs in those pools made: for the configured pools the list
// starts beside the first reads, under their locks; for pools an
// annotation chose, the ADD takes their locks and lists again.
func TestNodeClaimsAreListedUnderTheLocksOfTheChosenPools(t *testing.T) {
	tests := []struct {
		name        string
		annotations map[string]string
		chosen      string
		lists       int
	}{
		{name: "configured pool", chosen: "v4", lists: 1},
		{name: "pool of an annotation", annotations: map[string]string{ipamv1alpha1.AnnotationPools: "spare"}, chosen: "spare", lists: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := addCluster()
			annotate(tt.annotations)(f)
			p := testPlugin(t, f, []string{"v4"}, nil)
			other, err := nodestate.Open(p.Config.IPAM.DataDir, thisNode)
			if err != nil {
				t.Fatal(err)
			}
			var lockedDuringLastList bool
			f.On = map[string]func(){"NodeClaims": func() { lockedDuringLastList = isLocked(other, tt.chosen) }}
			args := &skel.CmdArgs{ContainerID: "c1", IfName: "eth0", Args: "K8S_POD_NAMESPACE=default;K8S_POD_NAME=web"}
			if _, err := p.Add(context.Background(), args); err != nil {
				t.Fatal(err)
			}
			if !lockedDuringLastList {
				t.Errorf("the node's claims were listed without the lock of pool %s", tt.chosen)
			}
			if len(f.NotOlderThan) != tt.lists {
				t.Errorf("the ADD listed the node's claims %d times, want %d", len(f.NotOlderThan), tt.lists)
			}
			if isLocked(other, tt.chosen) {
				t.Errorf("pool %s is still locked after the ADD", tt.chosen)
			}
		})
	}
}

// TestTheNodesClaimsAreListedBesideTheFirstReads: an ADD's list of the
// node's claims runs while it reads the pools, not after: a pool read that
// waits for the list to start does not wait in vain.
func TestTheNodesClaimsAreListedBesideTheFirstReads(t *testing.T) {
	f := addCluster()
	listing := make(chan struct{})
	var once sync.Once
	f.On = map[string]func(){
		"NodeClaims": func() { once.Do(func() { close(listing) }) },
		"Pool": func() {
			select {
			case <-listing:
			case <-time.After(5 * time.Second):
				t.Error("the pool was read while no list of the node's claims ran")
			}
		},
	}
	p := testPlugin(t, f, []string{"v4"}, nil)
	if _, err := p.Add(context.Background(), &skel.CmdArgs{ContainerID: "c1", IfName: "eth0"}); err != nil {
		t.Fatal(err)
	}
	if len(f.NotOlderThan) != 1 {
		t.Errorf("the ADD listed the node's claims %d times, want once", len(f.NotOlderThan))
	}
}

// TestAVersionKeptForAnotherPoolUIDIsAskedForOnce: a configured pool the
// ADDs do not choose (here, one that does not select the node) whose
// remembered version was kept for a pool of another UID makes the first
// ADD abandon its list and list again; the version is forgotten, and the
// next ADD lists once. An older version of that kind, behind the version
// asked for, costs nothing.
func TestAVersionKeptForAnotherPoolUIDIsAskedForOnce(t *testing.T) {
	const far = "987654321098"
	tests := []struct {
		name     string
		kept     map[string]nodestate.PoolState
		wantAsks []string
	}{
		{name: "the newest version", kept: map[string]nodestate.PoolState{
			"rack1": {ResourceVersion: far, PoolUID: "uid-rack1-before"},
		}, wantAsks: []string{far, "", "first"}},
		{name: "an older version", kept: map[string]nodestate.PoolState{
			"v4":    {ResourceVersion: "5", PoolUID: "uid-v4"},
			"rack1": {ResourceVersion: "1", PoolUID: "uid-rack1-before"},
		}, wantAsks: []string{"5", "first"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := addCluster()
			f.Pools["v4"].UID, f.Pools["rack1"].UID = "uid-v4", "uid-rack1"
			f.Unreached = []string{far}
			p := testPlugin(t, f, []string{"v4", "rack1"}, nil)
			dir, err := nodestate.Open(p.Config.IPAM.DataDir, thisNode)
			if err != nil {
				t.Fatal(err)
			}
			for pool, st := range tt.kept {
				if err := dir.SavePool(pool, st); err != nil {
					t.Fatal(err)
				}
			}
			for _, id := range []string{"c1", "c2"} {
				if _, err := p.Add(context.Background(), &skel.CmdArgs{ContainerID: id, IfName: "eth0"}); err != nil {
					t.Fatal(err)
				}
				if id == "c1" {
					tt.wantAsks[len(tt.wantAsks)-1] = dir.Pool("v4").ResourceVersion
				}
			}
			if !slices.Equal(f.NotOlderThan, tt.wantAsks) {
				t.Errorf("the two ADDs listed not older than %q, want %q", f.NotOlderThan, tt.wantAsks)
			}
		})
	}
}

// isLocked reports whether someone holds the node's lock on pool: dir
// cannot take it within a moment.
func isLocked(dir *nodestate.Dir, pool string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	unlock, err := dir.Lock(ctx, []string{pool})
	if err != nil {
		return true
	}
	unlock()
	return false
}

// TestABorrowingSearchThatFoundNothingContinuesOnTheNextADD: in a pool
// whose every block belongs to another node, a borrowing ADD reads a
// bounded number of blocks and fails when they are all full; the node's
// next ADD reads the blocks after them, so that repeated ADDs reach a free
// address anywhere in the pool instead of reading the same full blocks
// again.
func TestABorrowingSearchThatFoundNothingContinuesOnTheNextADD(t *testing.T) {
	f := addCluster()
	pool := ipamtest.ReadyPool("wide", ipamv1alpha1.IPPoolSpec{CIDR: "10.4.0.0/22", BlockSize: ptr.To[int32](28)})
	f.Pools[pool.Name] = pool
	layout, err := pool.Spec.Layout()
	if err != nil {
		t.Fatal(err)
	}
	for block, ok := layout.NextFreeBlock(layout.Prefix().Addr(), func(netip.Prefix) bool { return false }); ok; block, ok = nextBlock(layout, block) {
		claimWholeBlock(f, layout, pool.Name, "node-b", block)
	}
	p := testPlugin(t, f, []string{pool.Name}, nil)
	add := func(id string) (*current.Result, error) {
		res, err := p.Add(context.Background(), &skel.CmdArgs{ContainerID: id, IfName: "eth0"})
		if err != nil {
			return nil, err
		}
		return res.(*current.Result), nil
	}
	if _, err := add("c1"); err == nil || !strings.Contains(err.Error(), "its next ADD looks at the blocks after them") {
		t.Fatalf("first ADD: %v, want the pool exhausted for the blocks read", err)
	}
	read := f.BlockReads
	last := read[len(read)-1]
	free, ok := nextBlock(layout, last)
	if !ok {
		t.Fatalf("no block after %s", last)
	}
	freeAddr, _ := layout.NextIn(free, free.Addr())
	if err := f.Delete(context.Background(), mustGet(t, f, ipspace.AddressClaimName(freeAddr))); err != nil {
		t.Fatal(err)
	}
	res, err := add("c2")
	if err != nil {
		t.Fatalf("second ADD, with %s free in the block after the last one read: %v", freeAddr, err)
	}
	if got := res.IPs[0].Address.IP.String(); got != freeAddr.String() {
		t.Errorf("second ADD got %s, want %s", got, freeAddr)
	}
}

// nextBlock returns the block after block in the pool, wrapping around.
func nextBlock(layout ipspace.Layout, block netip.Prefix) (netip.Prefix, bool) {
	next, ok := layout.NextFreeBlock(block.Addr(), func(p netip.Prefix) bool { return p == block })
	return next, ok && next.Addr().Compare(block.Addr()) > 0
}

// claimWholeBlock makes node claim block and every usable address in it.
func claimWholeBlock(f *Fake, layout ipspace.Layout, pool, node string, block netip.Prefix) {
	name := ipspace.BlockClaimName(block)
	mustCreate(f, &ipamv1alpha1.IPClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: ipamv1alpha1.ClaimLabels(pool, node, "")},
		Spec:       ipamv1alpha1.IPClaimSpec{Pool: pool, Type: ipamv1alpha1.ClaimTypeBlock, Node: node, CIDR: block.String()},
	})
	for a, ok := layout.NextIn(block, block.Addr()); ok; a, ok = layout.NextIn(block, a.Next()) {
		mustCreate(f, &ipamv1alpha1.IPClaim{
			ObjectMeta: metav1.ObjectMeta{Name: ipspace.AddressClaimName(a), Labels: ipamv1alpha1.ClaimLabels(pool, node, name)},
			Spec:       ipamv1alpha1.IPClaimSpec{Pool: pool, Type: ipamv1alpha1.ClaimTypeAddress, Node: node, Address: a.String()},
		})
	}
}

// mustGet returns the fake's claim called name.
func mustGet(t *testing.T, f *Fake, name string) *ipamv1alpha1.IPClaim {
	t.Helper()
	claim, err := f.Get(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return claim
}

// TestVersionsBeyondWhatTheAPIServerReachedAreForgotten: when a list not
// older than a remembered version had to be made consistently instead
// (Cluster.Reached), the ADD or DEL forgets every version beyond the API
// server's, of every pool: they come from another cluster. Without such a
// list nothing is forgotten.
func TestVersionsBeyondWhatTheAPIServerReachedAreForgotten(t *testing.T) {
	const far, near = "987654321098", "5"
	tests := []struct {
		name      string
		reached   string
		verb      func(p *Plugin) error
		wantOther string
	}{
		{name: "ADD, server behind", reached: "100", verb: addC1, wantOther: ""},
		{name: "DEL, server behind", reached: "100", verb: delC1, wantOther: ""},
		{name: "ADD, no consistent list", verb: addC1, wantOther: far},
		{name: "DEL, no consistent list", verb: delC1, wantOther: far},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := addCluster()
			f.ReachedVersion = tt.reached
			p := testPlugin(t, f, []string{"v4"}, nil)
			dir, err := nodestate.Open(p.Config.IPAM.DataDir, thisNode)
			if err != nil {
				t.Fatal(err)
			}
			for pool, rv := range map[string]string{"gone": far, "spare": near} {
				if err := dir.SavePool(pool, nodestate.PoolState{ResourceVersion: rv}); err != nil {
					t.Fatal(err)
				}
			}
			if err := tt.verb(p); err != nil {
				t.Fatal(err)
			}
			if got := dir.Pool("gone").ResourceVersion; got != tt.wantOther {
				t.Errorf("the node remembers version %q of a pool of another cluster, want %q", got, tt.wantOther)
			}
			if got := dir.Pool("spare").ResourceVersion; got != near {
				t.Errorf("the node remembers version %q of a pool of this cluster, want %q", got, near)
			}
		})
	}
}

func addC1(p *Plugin) error {
	_, err := p.Add(context.Background(), &skel.CmdArgs{ContainerID: "c1", IfName: "eth0"})
	return err
}

func delC1(p *Plugin) error {
	return p.Del(context.Background(), &skel.CmdArgs{ContainerID: "c1", IfName: "eth0"})
}
