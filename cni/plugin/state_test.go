package plugin

import (
	"context"
	"slices"
	"testing"

	"github.com/containernetworking/cni/pkg/skel"

	"github.com/ipkeeper/ipkeeper/cni/nodestate"
)

// TestRememberedVersionsAreAskedForOnlyOfTheSamePool: an ADD lists the
// node's claims not older than the version the node remembers of the pool
// only when it was kept for the pool of the same UID (or before UIDs were
// kept). A version kept for a pool of another UID, as after the cluster
// was rebuilt under the node, is not asked for: the API server would hold
// the read until it gave up. Afterwards the node remembers this cluster's
// version, and forgets the versions of other pools that are newer.
func TestRememberedVersionsAreAskedForOnlyOfTheSamePool(t *testing.T) {
	const far = "987654321098"
	tests := []struct {
		name    string
		kept    nodestate.PoolState
		wantAsk string
		// wantOther is the version the node still remembers of another
		// pool, which was far ahead of the version created.
		wantOther string
	}{
		{name: "same pool", kept: nodestate.PoolState{ResourceVersion: far, PoolUID: "uid-v4"}, wantAsk: far, wantOther: far},
		{name: "kept before UIDs were", kept: nodestate.PoolState{ResourceVersion: far}, wantAsk: far, wantOther: far},
		{name: "another cluster's pool", kept: nodestate.PoolState{ResourceVersion: far, PoolUID: "uid-v4-before"}, wantAsk: "", wantOther: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := addCluster()
			f.Pools["v4"].UID = "uid-v4"
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
			if want := []string{tt.wantAsk, created.ResourceVersion}; !slices.Equal(f.NotOlderThan, want) {
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
