package perf

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"

	"k8s.io/utils/ptr"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
)

// BenchmarkChurn's pool and its measure: a fixed number of ADD/DEL cycles
// of sandboxes across the nodes, so many at once.
const (
	churnPool   = "churn-v4"
	churnCIDR   = "10.96.0.0/16"
	churnCycles = 500
	churnConc   = 16
	// churnDepth is how many sandboxes each worker keeps alive.
	churnDepth = 8
	// churnBlockBits makes the nodes' blocks small (32 addresses): the 50
	// ADDs a node makes in a round wrap around its block, so that released
	// addresses are handed out again while about 13 sandboxes of the node
	// are alive.
	churnBlockBits = 27
)

// churnRun is what one round of BenchmarkChurn measured.
type churnRun struct {
	cyclesPerSec     float64
	addP50, addP99   float64
	delP50, delP99   float64
	reqPerCycle      float64
	peakLive, reused float64
}

// BenchmarkChurn runs 500 ADD/DEL cycles of sandboxes, 16 at once,
// across 10 simulated nodes, each ADD and DEL a plugin process through
// libcni: pods coming and going as in a roll-out, about 130 alive at any
// moment on blocks of 32 addresses, so that released addresses are handed
// out again. Every address an ADD returns is checked against the addresses
// of the sandboxes alive at that moment (those whose DEL has not started):
// a duplicate fails the benchmark, as does an Address claim left in the
// pool after the last DEL. It reports cycles per second, ADD and DEL
// latencies and the API requests per cycle; one iteration is the whole 500
// cycles.
func BenchmarkChurn(b *testing.B) {
	c := startCluster(b, clusterOptions{
		nodes: nodeNames("churn-node", simNodes),
		pools: map[string]ipamv1alpha1.IPPoolSpec{churnPool: {CIDR: churnCIDR, BlockSize: ptr.To[int32](churnBlockBits)}},
	})
	c.warm(b, churnPool)
	runs := newRunLog[churnRun]()
	b.Run(fmt.Sprintf("cycles=%d/conc=%d", churnCycles, churnConc), func(b *testing.B) {
		runs.record(b, c.benchmarkChurn(b))
	})
	t := newTable("Churn: medians of the runs", "cycles", "concurrent", "cycles/s", "ADD p50 ms", "ADD p99 ms",
		"DEL p50 ms", "DEL p99 ms", "req/cycle", "most alive at once", "addresses reused")
	name := fmt.Sprintf("%s/cycles=%d/conc=%d", b.Name(), churnCycles, churnConc)
	cells := []string{fmt.Sprint(churnCycles), fmt.Sprint(churnConc)}
	for _, f := range []func(churnRun) float64{
		func(r churnRun) float64 { return r.cyclesPerSec },
		func(r churnRun) float64 { return r.addP50 }, func(r churnRun) float64 { return r.addP99 },
		func(r churnRun) float64 { return r.delP50 }, func(r churnRun) float64 { return r.delP99 },
		func(r churnRun) float64 { return r.reqPerCycle },
		func(r churnRun) float64 { return r.peakLive }, func(r churnRun) float64 { return r.reused },
	} {
		v, ok := runs.median(name, f)
		cells = append(cells, num(v, ok, "%.1f"))
	}
	t.add(cells...)
	t.print()
}

func (c *cluster) benchmarkChurn(b *testing.B) churnRun {
	live := &liveSet{holder: map[netip.Addr]string{}, ever: map[netip.Addr]bool{}}
	var adds, dels latencies
	requests := startRequests(b, c.env)
	b.ResetTimer()
	for range b.N {
		a, d, err := c.churn(live)
		if err != nil {
			b.Fatal(err)
		}
		adds, dels = append(adds, a...), append(dels, d...)
	}
	b.StopTimer()
	c.expectNoAddressClaims(b, churnPool)
	run := churnRun{
		cyclesPerSec: float64(b.N*churnCycles) / b.Elapsed().Seconds(), reqPerCycle: requests.perOp(b, b.N*churnCycles),
		addP50: adds.percentile(0.50), addP99: adds.percentile(0.99), delP50: dels.percentile(0.50), delP99: dels.percentile(0.99),
		peakLive: float64(live.peak), reused: float64(live.reused),
	}
	b.ReportMetric(run.cyclesPerSec, "cycles/s")
	adds.report(b, "add-")
	dels.report(b, "del-")
	b.ReportMetric(run.reqPerCycle, "req/cycle")
	return run
}

// churn runs churnCycles cycles on churnConc workers. Each worker keeps
// its last churnDepth sandboxes alive: it deletes its oldest sandbox once
// it holds more, and the rest at the end, so that about
// churnConc*churnDepth sandboxes live at any moment and the nodes' small
// blocks wrap around, handing out released addresses again.
func (c *cluster) churn(live *liveSet) (adds, dels latencies, err error) {
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for w := range churnConc {
		wg.Go(func() {
			a, d, err := c.churnWorker(w, live)
			mu.Lock()
			defer mu.Unlock()
			adds, dels, errs = append(adds, a...), append(dels, d...), append(errs, err)
		})
	}
	wg.Wait()
	return adds, dels, errors.Join(errs...)
}

func (c *cluster) churnWorker(w int, live *liveSet) (adds, dels latencies, err error) {
	var queue []*sandbox
	release := func(s *sandbox) error {
		live.release(s)
		took, err := s.del(context.Background())
		dels = append(dels, took)
		return err
	}
	for i := w; i < churnCycles; i += churnConc {
		node := c.nodes[i%len(c.nodes)]
		s, took, err := c.add(context.Background(), node, node.network("ipkeeper", churnPool))
		adds = append(adds, took)
		if err == nil {
			err = live.take(s)
			queue = append(queue, s)
		}
		if err == nil && len(queue) > churnDepth {
			err = release(queue[0])
			queue = queue[1:]
		}
		if err != nil {
			return adds, dels, err
		}
	}
	for _, s := range queue {
		if err := release(s); err != nil {
			return adds, dels, err
		}
	}
	return adds, dels, nil
}

// liveSet holds the addresses of the sandboxes alive at a moment: taken
// when the ADD returns, released when the DEL starts.
type liveSet struct {
	mu     sync.Mutex
	holder map[netip.Addr]string
	// ever are the addresses ever handed out, to count reuse.
	ever         map[netip.Addr]bool
	peak, reused int
}

// take records that s holds its address, and fails if another live
// sandbox holds it.
func (l *liveSet) take(s *sandbox) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if other, ok := l.holder[s.addr]; ok {
		return fmt.Errorf("address %s handed out to %s while %s held it", s.addr, s.rt.ContainerID, other)
	}
	l.holder[s.addr] = s.rt.ContainerID
	l.peak = max(l.peak, len(l.holder))
	if l.ever[s.addr] {
		l.reused++
	}
	l.ever[s.addr] = true
	return nil
}

// release records that s's DEL starts.
func (l *liveSet) release(s *sandbox) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.holder, s.addr)
}
