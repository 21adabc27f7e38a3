package perf

import (
	"context"
	"fmt"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ipkeeper/ipkeeper/api/ipspace"
	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
)

// The pools of BenchmarkAllocation: the plugin's, a /12 of 4096 /24
// blocks so that no node runs out, and the baseline's, whose addresses the
// benchmark hands out itself.
const (
	allocPool = "alloc-v4"
	allocCIDR = "10.128.0.0/12"
	rawPool   = "raw-v4"
	rawCIDR   = "10.192.0.0/12"
)

// allocators are what BenchmarkAllocation compares, the baseline first, so
// that `benchstat -col /impl` shows ipkeeper against rawcreate.
var allocators = []string{rawcreateName, "ipkeeper"}

// concurrencies are how many ADDs run at once, across the nodes.
var concurrencies = []int{1, 16, 64}

// allocRun is what one run of BenchmarkAllocation measured.
type allocRun struct {
	addsPerSec, p50, p95, p99 float64
	reqPerAdd, reqPerDel      float64
	// cpuPerAdd is the CPU time per ADD, in ms, by part.
	cpuPerAdd map[string]float64
}

// BenchmarkAllocation measures what a pod start costs the node's IPAM on a
// real control plane installed as config/default installs it (the
// node-claims admission policy, the webhook configuration, the manager
// binary serving it): M ADDs at once for M = 1, 16 and 64, spread over 10
// simulated nodes, each ADD a separate plugin process that libcni executes
// as a runtime does, with a kubeconfig whose token is bound to the node.
// Nodes already hold a block: the warm path.
//
// The baseline (impl=rawcreate) runs the same way: a minimal binary, built
// by the benchmark, that loads the same kubeconfig and creates one IPClaim
// of the same size, for an address the benchmark chose: the one request
// no IPAM through the API server can avoid. Each run reports ADDs per
// second, latency percentiles, the API requests per ADD (and per DEL for
// ipkeeper, whose sandboxes are deleted after the clock stops), counted by
// the API server, and the CPU time per ADD of each process. A duplicate
// address among the live sandboxes, or a claim left after the DELs, fails
// the benchmark. The benchmark log gets a table of medians and ratios.
func BenchmarkAllocation(b *testing.B) {
	c := startCluster(b, clusterOptions{
		nodes: nodeNames("alloc-node", simNodes),
		pools: map[string]ipamv1alpha1.IPPoolSpec{allocPool: {CIDR: allocCIDR}, rawPool: {CIDR: rawCIDR}},
	})
	c.warm(b, allocPool)
	runs := newRunLog[allocRun]()
	for _, conc := range concurrencies {
		for _, impl := range allocators {
			b.Run(fmt.Sprintf("conc=%d/impl=%s", conc, impl), func(b *testing.B) {
				runs.record(b, c.benchmarkAllocation(b, impl, conc))
			})
		}
	}
	allocationTable(b, runs).print()
}

func (c *cluster) benchmarkAllocation(b *testing.B, impl string, conc int) allocRun {
	add := c.ipkeeperAdd
	if impl == rawcreateName {
		add = c.rawcreateAdd()
	}
	requests := startRequests(b, c.env)
	cpu := startCPU()
	b.ResetTimer()
	sandboxes, lat := c.addMany(b, b.N, conc, add)
	b.StopTimer()
	run := allocRun{addsPerSec: float64(b.N) / b.Elapsed().Seconds(), reqPerAdd: requests.perOp(b, b.N)}
	spent := cpu.report(b, b.N, "add")
	run.cpuPerAdd = map[string]float64{}
	for part := range spent {
		run.cpuPerAdd[part] = spent.ms(part) / float64(b.N)
	}
	run.p50, run.p95, run.p99 = lat.percentile(0.50), lat.percentile(0.95), lat.percentile(0.99)
	b.ReportMetric(run.addsPerSec, "adds/s")
	lat.report(b, "")
	b.ReportMetric(run.reqPerAdd, "req/add")
	if impl == rawcreateName {
		c.deleteBaselineClaims(b)
		return run
	}
	requests = startRequests(b, c.env)
	delLat := delMany(b, sandboxes, conc)
	run.reqPerDel = requests.perOp(b, len(sandboxes))
	b.ReportMetric(run.reqPerDel, "req/del")
	b.ReportMetric(delLat.percentile(0.50), "del-p50-ms")
	c.expectNoAddressClaims(b, allocPool)
	return run
}

// ipkeeperAdd runs the i-th ADD of a run on node i mod 10.
func (c *cluster) ipkeeperAdd(i int) (*sandbox, time.Duration, error) {
	node := c.nodes[i%len(c.nodes)]
	return c.add(context.Background(), node, node.network("ipkeeper", allocPool))
}

// rawcreateAdd returns the ADDs of the baseline, each for the next address
// of its pool, passed in CNI_ARGS.
func (c *cluster) rawcreateAdd() func(i int) (*sandbox, time.Duration, error) {
	base := netip.MustParsePrefix(rawCIDR).Addr().As4()
	first := uint32(base[0])<<24 | uint32(base[1])<<16 | uint32(base[2])<<8 | uint32(base[3])
	return func(i int) (*sandbox, time.Duration, error) {
		v := first + rawSeq.Add(1)
		addr := netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
		block := ipspace.BlockClaimName(netip.PrefixFrom(addr, ipspace.DefaultBlockSizeIPv4).Masked())
		node := c.nodes[i%len(c.nodes)]
		return c.add(context.Background(), node, node.network(rawcreateName, rawPool),
			[2]string{"IPKEEPER_BENCH_ADDRESS", addr.String()}, [2]string{"IPKEEPER_BENCH_BLOCK", block})
	}
}

// rawSeq numbers the baseline's addresses, never reused in a run of the
// package.
var rawSeq atomic.Uint32

// deleteBaselineClaims deletes the claims the baseline created, outside
// the timed part, with one request.
func (c *cluster) deleteBaselineClaims(b *testing.B) {
	b.Helper()
	err := c.env.Client.DeleteAllOf(context.Background(), &ipamv1alpha1.IPClaim{},
		client.MatchingLabels{ipamv1alpha1.LabelPool: rawPool})
	if err != nil {
		b.Fatal(err)
	}
}

// allocationTable sets ipkeeper beside the baseline, per concurrency.
func allocationTable(b *testing.B, runs *runLog[allocRun]) *table {
	t := newTable("Allocation: medians of the runs; ratio is ipkeeper / rawcreate",
		"concurrent", "impl", "ADDs/s", "p50 ms", "p95 ms", "p99 ms", "req/ADD", "req/DEL",
		"CPU ms/ADD plugin", "apiserver", "etcd", "manager", "harness")
	for _, conc := range concurrencies {
		name := func(impl string) string { return fmt.Sprintf("%s/conc=%d/impl=%s", b.Name(), conc, impl) }
		values := map[string][]float64{}
		oks := map[string][]bool{}
		for _, impl := range allocators {
			cells := []string{fmt.Sprint(conc), impl}
			for _, f := range []func(allocRun) float64{
				func(r allocRun) float64 { return r.addsPerSec }, func(r allocRun) float64 { return r.p50 },
				func(r allocRun) float64 { return r.p95 }, func(r allocRun) float64 { return r.p99 },
			} {
				v, ok := runs.median(name(impl), f)
				values[impl], oks[impl] = append(values[impl], v), append(oks[impl], ok)
				cells = append(cells, num(v, ok, "%.1f"))
			}
			reqAdd, ok := runs.median(name(impl), func(r allocRun) float64 { return r.reqPerAdd })
			cells = append(cells, num(reqAdd, ok, "%.2f"))
			reqDel, ok := runs.median(name(impl), func(r allocRun) float64 { return r.reqPerDel })
			cells = append(cells, num(reqDel, ok && impl != rawcreateName, "%.2f"))
			for _, part := range cpuParts {
				v, ok := runs.median(name(impl), func(r allocRun) float64 { return r.cpuPerAdd[part] })
				cells = append(cells, num(v, ok, "%.1f"))
			}
			t.add(cells...)
		}
		cells := []string{fmt.Sprint(conc), "ratio"}
		for i := range values["ipkeeper"] {
			cells = append(cells, ratio(values["ipkeeper"][i], oks["ipkeeper"][i], values[rawcreateName][i], oks[rawcreateName][i]))
		}
		t.add(cells...)
	}
	return t
}
