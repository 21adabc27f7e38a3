package perf

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ipkeeper/ipkeeper/cni/apiserver"
)

// pluginReads are the plugin's reads whose cost BenchmarkOperator measures
// in a cluster of one node and again of 500: the node's claims, listed by
// label on every ADD; a container's claims, listed by field on every DEL;
// and, for reference, one claim read by name, a key read from etcd.
var pluginReads = []string{"node-claims", "container-claims", "claim-by-name"}

// readRun is what one run of a plugin read measured: its median latency
// and the API server's CPU time per read, in milliseconds.
type readRun struct {
	p50, apiserverCPU float64
}

// runPluginReads runs a sub-benchmark per plugin read, as the first node
// with its 100 claims would make it, in the cluster as it is now.
func (c *scaleCluster) runPluginReads(b *testing.B, runs *runLog[readRun]) {
	claims := c.claimCount()
	for _, read := range pluginReads {
		b.Run(fmt.Sprintf("plugin-reads/claims=%d/read=%s", claims, read), func(b *testing.B) {
			runs.record(b, c.benchmarkRead(b, c.nodes[0], read))
		})
	}
}

// claimCount is the number of claims of the nodes populated so far: each
// has its block and its pods' addresses.
func (c *scaleCluster) claimCount() int {
	populated := 0
	for _, n := range c.nodes {
		if n != nil {
			populated++
		}
	}
	return populated * (scalePodsPerNode + 1)
}

// benchmarkRead times read with node's credential and the plugin's own
// client, not older than the node's newest claim, as the plugin asks. A
// read that does not find what the node holds fails the benchmark.
func (c *scaleCluster) benchmarkRead(b *testing.B, n *scaleNode, read string) readRun {
	ctx := context.Background()
	cl, err := apiserver.New(n.config)
	if err != nil {
		b.Fatal(err)
	}
	newest, err := cl.Get(ctx, n.claims[len(n.claims)-1].Name)
	if err != nil {
		b.Fatal(err)
	}
	rv := newest.ResourceVersion
	reads := map[string]func() (int, error){
		"node-claims": func() (int, error) {
			claims, err := cl.NodeClaims(ctx, n.name, rv)
			return len(claims), err
		},
		"container-claims": func() (int, error) {
			claims, err := cl.ContainerClaims(ctx, newest.Spec.Owner.ContainerID, rv)
			return len(claims), err
		},
		"claim-by-name": func() (int, error) {
			_, err := cl.Get(ctx, newest.Name)
			return 1, err
		},
	}
	want := map[string]int{"node-claims": scalePodsPerNode + 1, "container-claims": 1, "claim-by-name": 1}[read]
	var lat latencies
	cpu := startCPU()
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		got, err := reads[read]()
		lat = append(lat, time.Since(start))
		if err != nil || got != want {
			b.Fatalf("%s of %s: %d objects, %v; want %d", read, n.name, got, err, want)
		}
	}
	b.StopTimer()
	spent := cpu.report(b, b.N, "read")
	lat.report(b, "")
	return readRun{p50: lat.percentile(0.50), apiserverCPU: spent.ms("apiserver") / float64(b.N)}
}

// readsTable is the table of the plugin reads: each read in the full
// cluster against the same read in the cluster of one node.
func readsTable(b *testing.B, runs *runLog[readRun]) *table {
	small, full := scalePodsPerNode+1, scaleNodes*(scalePodsPerNode+1)
	t := newTable(fmt.Sprintf("Plugin reads: medians of the runs; ratio is %d claims in the cluster / %d", full, small),
		"read", "claims", "p50 ms", "apiserver CPU ms/read", "p50 ratio", "CPU ratio")
	for _, read := range pluginReads {
		name := func(claims int) string {
			return fmt.Sprintf("%s/plugin-reads/claims=%d/read=%s", b.Name(), claims, read)
		}
		p50 := func(r readRun) float64 { return r.p50 }
		cpu := func(r readRun) float64 { return r.apiserverCPU }
		baseLat, baseLatOK := runs.median(name(small), p50)
		baseUsed, baseUsedOK := runs.median(name(small), cpu)
		for _, claims := range []int{small, full} {
			lat, latOK := runs.median(name(claims), p50)
			used, usedOK := runs.median(name(claims), cpu)
			t.add(read, fmt.Sprint(claims), num(lat, latOK, "%.2f"), num(used, usedOK, "%.2f"),
				ratio(lat, latOK, baseLat, baseLatOK), ratio(used, usedOK, baseUsed, baseUsedOK))
		}
	}
	return t
}
