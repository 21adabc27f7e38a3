package perf

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
)

// The pool of BenchmarkFirstAdd.
const (
	firstPool = "first-v4"
	firstCIDR = "10.100.0.0/16"
)

// nodeStates are the states of a node's data dir BenchmarkFirstAdd
// compares, the warm path first.
var nodeStates = []struct {
	name string
	// warm: the node holds a block and its data dir is its own; else
	// the node holds no block (its first ADD in this cluster) and its data
	// dir holds state, the content of its pool's state file, or nothing.
	warm  bool
	state string
}{
	{name: "warm", warm: true},
	{name: "empty"},
	// The node remembers a claim, and a pool, of the cluster it served
	// before this one was built: a resourceVersion far beyond this API
	// server's, and another pool UID.
	{name: "other-cluster", state: `{"cursor":"10.100.7.9","resourceVersion":"987654321098","poolUID":"5e1f8e4c-0000-4000-8000-00000000dead"}`},
}

// BenchmarkFirstAdd measures the first ADD of a node after its cluster was
// rebuilt under it: the node's data dir remembers the resourceVersion of
// its last claim in the old cluster, far ahead of anything this API server
// has issued. The ADD must not wait for a read "not older than" that
// version, which the API server would hold until it gives up. It is set
// beside the first ADD of a node with an empty data dir (both claim a
// block, as every first ADD in a cluster does) and a warm ADD, on the same
// control plane. Each iteration is one ADD, timed, then its DEL and the
// release of the node's block, not timed.
func BenchmarkFirstAdd(b *testing.B) {
	c := startCluster(b, clusterOptions{
		nodes: []string{"first-warm", "first-node"},
		pools: map[string]ipamv1alpha1.IPPoolSpec{firstPool: {CIDR: firstCIDR}},
	})
	c.warm(b, firstPool)
	runs := newRunLog[float64]()
	for _, st := range nodeStates {
		b.Run("state="+st.name, func(b *testing.B) {
			node := c.nodes[1]
			if st.warm {
				node = c.nodes[0]
			}
			var adds latencies
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				if !st.warm {
					c.forgetNode(b, node, st.state)
				}
				b.StartTimer()
				s, took, err := c.add(context.Background(), node, node.network("ipkeeper", firstPool))
				if err != nil {
					b.Fatal(err)
				}
				adds = append(adds, took)
				b.StopTimer()
				if _, err := s.del(context.Background()); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			b.StopTimer()
			adds.report(b, "add-")
			runs.record(b, adds.percentile(0.5))
		})
	}
	t := newTable("First ADD: medians of the runs' ADD p50; ratio to the warm ADD and to the first ADD with an empty data dir",
		"node state", "ADD p50 ms", "ratio to warm", "ratio to empty")
	median := func(state string) (float64, bool) {
		return runs.median(fmt.Sprintf("%s/state=%s", b.Name(), state), func(v float64) float64 { return v })
	}
	warm, warmOK := median("warm")
	empty, emptyOK := median("empty")
	for _, st := range nodeStates {
		v, ok := median(st.name)
		t.add(st.name, num(v, ok, "%.1f"), ratio(v, ok, warm, warmOK), ratio(v, ok, empty, emptyOK))
	}
	t.print()
}

// forgetNode releases node's blocks, so that its next ADD is its first in
// the pool, and replaces its data dir with one holding state as the pool's
// state file (nothing when state is empty).
func (c *cluster) forgetNode(b *testing.B, node *simNode, state string) {
	b.Helper()
	err := c.env.Client.DeleteAllOf(context.Background(), &ipamv1alpha1.IPClaim{},
		client.MatchingLabels{ipamv1alpha1.LabelNode: node.name}, client.MatchingFields{ipamv1alpha1.FieldType: string(ipamv1alpha1.ClaimTypeBlock)})
	if err != nil {
		b.Fatal(err)
	}
	dir := filepath.Join(node.dataDir, node.name)
	if err := os.RemoveAll(dir); err != nil {
		b.Fatal(err)
	}
	if state == "" {
		return
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, firstPool+".state"), []byte(state), 0o600); err != nil {
		b.Fatal(err)
	}
}
