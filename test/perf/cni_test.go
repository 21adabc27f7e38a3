package perf

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/skel"

	"github.com/ipkeeper/ipkeeper/cni/apiserver/transport"
	"github.com/ipkeeper/ipkeeper/cni/plugin"
)

// plugins are the IPAM plugins the end-to-end benchmarks compare, baseline
// first, so that `benchstat -col /plugin` shows ipkeeper against host-local.
var plugins = []string{"host-local", "ipkeeper"}

// containerSeq numbers sandboxes: every ADD is for a new container ID.
var containerSeq atomic.Int64

func nextContainerID() string {
	return fmt.Sprintf("c-bench-%06d", containerSeq.Add(1))
}

// network returns the node's network configuration of plugin.
func (n *simNode) network(plugin string) *libcni.NetworkConfigList {
	if plugin == "host-local" {
		return n.hostLocal
	}
	return n.ipkeeper
}

// warm runs one ADD+DEL of plugin on the node unless one ran before: the
// node's first ipkeeper ADD claims its block, which it keeps, and the
// benchmarks measure the warm path.
func (n *simNode) warm(b *testing.B, c *cluster, plugin string) {
	if !n.warmed[plugin] {
		cycle(b, c, n, n.network(plugin))
		n.warmed[plugin] = true
	}
}

// BenchmarkExecVersion measures the floor under every CNI call: the
// runtime executes the plugin binary, which starts and answers VERSION
// without reading any configuration.
func BenchmarkExecVersion(b *testing.B) {
	bins := needBinaries(b)
	cni := libcni.NewCNIConfig(bins.path, nil)
	for _, p := range plugins {
		b.Run("plugin="+p, func(b *testing.B) {
			for b.Loop() {
				if _, err := cni.GetVersionInfo(context.Background(), p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAddDel measures what a pod sandbox costs the node's IPAM: one
// ADD and one DEL, each a process the runtime executes through libcni, on
// a node that already holds a block with free addresses (ipkeeper's warm
// path: at most 3 API round trips per ADD). host-local, which reserves
// addresses in files on the node and talks to nobody, is the baseline.
// Besides the time of the whole cycle it reports the ADD's and the DEL's
// share, and the CPU time each part of the system spent per cycle.
//
// plugin=ipkeeper-in-process runs the same ADD and DEL as calls in the
// benchmark's process (plugin.Load, then Add or Del, as the binary's main
// does): the difference to plugin=ipkeeper is the cost of starting a
// process and a TLS connection per call. It also reports the API requests
// of each ADD and DEL.
func BenchmarkAddDel(b *testing.B) {
	c := needCluster(b)
	node := c.nodes[0]
	for _, p := range plugins {
		b.Run("plugin="+p, func(b *testing.B) {
			network := node.network(p)
			node.warm(b, c, p)
			benchmarkCycles(b, func() (add, del time.Duration) { return cycle(b, c, node, network) })
		})
	}
	b.Run("plugin=ipkeeper-in-process", func(b *testing.B) {
		var requests requestCounts
		node.warm(b, c, "ipkeeper")
		benchmarkCycles(b, func() (add, del time.Duration) { return cycleInProcess(b, c, node, &requests) })
		b.ReportMetric(float64(requests.add)/float64(b.N), "add-requests/op")
		b.ReportMetric(float64(requests.del)/float64(b.N), "del-requests/op")
	})
}

// benchmarkCycles runs ADD+DEL cycles and reports the ADD's and the DEL's
// time and the CPU time spent.
func benchmarkCycles(b *testing.B, cycle func() (add, del time.Duration)) {
	var adds, dels time.Duration
	cpu := startCPU()
	for b.Loop() {
		add, del := cycle()
		adds += add
		dels += del
	}
	cpu.report(b)
	b.ReportMetric(float64(adds)/float64(time.Millisecond)/float64(b.N), "add-ms/op")
	b.ReportMetric(float64(dels)/float64(time.Millisecond)/float64(b.N), "del-ms/op")
}

// cycle runs ADD then DEL of a new sandbox on node through libcni and
// returns how long each took.
func cycle(b *testing.B, c *cluster, node *simNode, network *libcni.NetworkConfigList) (add, del time.Duration) {
	ctx := context.Background()
	rt := c.runtimeConf(nextContainerID())
	start := time.Now()
	if _, err := node.cni.AddNetworkList(ctx, network, rt); err != nil {
		b.Fatalf("ADD on %s: %v", node.name, err)
	}
	added := time.Now()
	if err := node.cni.DelNetworkList(ctx, network, rt); err != nil {
		b.Fatalf("DEL on %s: %v", node.name, err)
	}
	return added.Sub(start), time.Since(added)
}

// requestCounts are the API requests of in-process ADDs and DELs.
type requestCounts struct{ add, del int64 }

// cycleInProcess runs ADD then DEL of a new sandbox on node as in-process
// calls of the plugin, each loading its configuration and client as the
// binary does, and returns how long each took. It counts the API requests
// of each in requests.
func cycleInProcess(b *testing.B, c *cluster, node *simNode, requests *requestCounts) (add, del time.Duration) {
	id := nextContainerID()
	rt := c.runtimeConf(id)
	args := &skel.CmdArgs{ContainerID: id, Netns: rt.NetNS, IfName: rt.IfName, StdinData: node.ipkeeperConf}
	for _, kv := range rt.Args {
		args.Args += kv[0] + "=" + kv[1] + ";"
	}
	add = call(b, args, &requests.add, func(ctx context.Context, p *plugin.Plugin) error { _, err := p.Add(ctx, args); return err })
	del = call(b, args, &requests.del, func(ctx context.Context, p *plugin.Plugin) error { return p.Del(ctx, args) })
	return add, del
}

// call runs one verb in-process as the binary's main does, adds its API
// requests to requests and returns how long it took.
func call(b *testing.B, args *skel.CmdArgs, requests *int64, verb func(context.Context, *plugin.Plugin) error) time.Duration {
	start := time.Now()
	var counter transport.Counter
	p, err := plugin.Load(args.StdinData, counter.Install)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := p.Context()
	defer cancel()
	if err := verb(ctx, p); err != nil {
		b.Fatalf("in-process call for %s: %v", args.ContainerID, err)
	}
	*requests += counter.Requests()
	return time.Since(start)
}

// BenchmarkParallelAdd measures throughput: ADDs running at once on every
// simulated node (one stream of ADDs per node, as a kubelet starting pods
// one after another), each a plugin process executed through libcni. It
// reports adds/s across the nodes, to set beside the published figures of
// pods started per second (docs/performance.md). Sandboxes are not deleted
// while the clock runs: the pool fills as it would during a roll-out, and
// the DELs run after the measurement.
func BenchmarkParallelAdd(b *testing.B) {
	c := needCluster(b)
	for _, p := range plugins {
		b.Run("plugin="+p, func(b *testing.B) {
			benchmarkParallelAdd(b, c, p)
		})
	}
}

func benchmarkParallelAdd(b *testing.B, c *cluster, p string) {
	for _, node := range c.nodes {
		node.warm(b, c, p)
	}
	// RunParallel starts GOMAXPROCS*parallelism goroutines: at least one
	// per node.
	procs := runtime.GOMAXPROCS(0)
	b.SetParallelism((len(c.nodes) + procs - 1) / procs)
	var nextNode atomic.Int64
	var mu sync.Mutex
	var added []sandbox
	b.ResetTimer()
	cpu := startCPU()
	b.RunParallel(func(pb *testing.PB) {
		node := c.nodes[int(nextNode.Add(1)-1)%len(c.nodes)]
		network := node.network(p)
		var mine []sandbox
		defer func() {
			mu.Lock()
			added = append(added, mine...)
			mu.Unlock()
		}()
		for pb.Next() {
			rt := c.runtimeConf(nextContainerID())
			if _, err := node.cni.AddNetworkList(context.Background(), network, rt); err != nil {
				b.Errorf("ADD on %s: %v", node.name, err)
				return
			}
			mine = append(mine, sandbox{node, network, rt})
		}
	})
	b.StopTimer()
	cpu.report(b)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "adds/s")
	if err := deleteAll(added); err != nil {
		b.Fatal(err)
	}
}

// sandbox is an ADD to undo.
type sandbox struct {
	node    *simNode
	network *libcni.NetworkConfigList
	rt      *libcni.RuntimeConf
}

// deleteAll runs the DELs of sandboxes, a few at a time.
func deleteAll(sandboxes []sandbox) error {
	var wg sync.WaitGroup
	errs := make([]error, len(sandboxes))
	limit := make(chan struct{}, simNodes)
	for i, s := range sandboxes {
		limit <- struct{}{}
		wg.Go(func() {
			defer func() { <-limit }()
			errs[i] = s.node.cni.DelNetworkList(context.Background(), s.network, s.rt)
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
