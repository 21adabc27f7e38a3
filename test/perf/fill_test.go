package perf

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/ipkeeper/ipkeeper/api/ipspace"
	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
	"github.com/ipkeeper/ipkeeper/test/harness"
)

// The pool of BenchmarkFill: 64 blocks of 64 addresses, small enough to
// fill through the API in seconds, with blocks about as large as a node's
// share of pods (a node runs at most 110 by default).
const (
	fillPool      = "fill-v4"
	fillCIDR      = "10.64.0.0/20"
	fillBlockBits = 26
	// fillWriters create the claims that fill the pool, at once.
	fillWriters = 16
)

// fillLevels are the shares of the pool's addresses held while
// BenchmarkFill measures, rising: each level adds claims to the last.
var fillLevels = []struct {
	name  string
	share float64
}{{"1", 0.01}, {"50", 0.50}, {"90", 0.90}, {"99", 0.99}}

// borrowerNode is the node of BenchmarkFill whose block is full: every ADD
// of it borrows.
const borrowerNode = "fill-borrower"

// fillRun is what one run of BenchmarkFill measured.
type fillRun struct {
	fill                 float64
	p50, p95, p99        float64
	borrowP50, borrowP99 float64
	reqPerCycle          float64
}

// BenchmarkFill measures ADD latency as the pool fills: with 1%, 50%, 90%
// and 99% of its addresses held, and every block of the pool claimed at
// every level, so that a node whose blocks are full must borrow. Ten nodes
// hold a block each, filled to the level with their own claims (as their
// pods would), and allocate on the warm path; an eleventh, the borrower,
// holds a full block and borrows on every ADD; the other blocks belong to
// nodes that only hold claims. Each iteration is one ADD and its DEL (so
// the level stays), on the nodes in turn, each a plugin process through
// libcni. The claims that fill the pool are created through the API
// directly, outside the timed part.
//
// It reports the ADD latency percentiles of all nodes and of the
// borrower's ADDs alone, the API requests per ADD+DEL cycle, and the share
// of the pool held; the log gets a table with each level against 1%.
func BenchmarkFill(b *testing.B) {
	nodes := append(nodeNames("fill-node", simNodes), borrowerNode)
	c := startCluster(b, clusterOptions{
		nodes: nodes,
		pools: map[string]ipamv1alpha1.IPPoolSpec{fillPool: {CIDR: fillCIDR, BlockSize: ptr.To[int32](fillBlockBits)}},
	})
	c.warm(b, fillPool)
	f := c.newFiller(b)
	runs := newRunLog[fillRun]()
	for _, level := range fillLevels {
		f.fillTo(b, level.share)
		b.Run("fill="+level.name, func(b *testing.B) {
			runs.record(b, c.benchmarkFillLevel(b, f))
		})
	}
	fillTable(b, runs).print()
}

func (c *cluster) benchmarkFillLevel(b *testing.B, f *filler) fillRun {
	var all, borrowed latencies
	requests := startRequests(b, c.env)
	b.ResetTimer()
	for i := range b.N {
		node := c.nodes[i%len(c.nodes)]
		s, took, err := c.add(context.Background(), node, node.network("ipkeeper", fillPool))
		if err != nil {
			b.Fatal(err)
		}
		all = append(all, took)
		if node.name == borrowerNode {
			if f.owner[f.layout.BlockOf(s.addr)] == borrowerNode {
				b.Fatalf("the borrower got %s in its own full block", s.addr)
			}
			borrowed = append(borrowed, took)
		}
		if _, err := s.del(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	run := fillRun{fill: f.share(), reqPerCycle: requests.perOp(b, b.N)}
	run.p50, run.p95, run.p99 = all.percentile(0.50), all.percentile(0.95), all.percentile(0.99)
	run.borrowP50, run.borrowP99 = borrowed.percentile(0.50), borrowed.percentile(0.99)
	all.report(b, "add-")
	b.ReportMetric(run.borrowP50, "borrow-p50-ms")
	b.ReportMetric(run.borrowP99, "borrow-p99-ms")
	b.ReportMetric(run.reqPerCycle, "req/cycle")
	b.ReportMetric(100*run.fill, "fill-%")
	return run
}

// filler fills the pool of BenchmarkFill through the API.
type filler struct {
	c      *cluster
	layout ipspace.Layout
	blocks []netip.Prefix
	owner  map[netip.Prefix]string
	// held counts the Address claims made in each block.
	held map[netip.Prefix]int
}

// newFiller claims every block of the pool the simulated nodes do not
// hold, for nodes that exist (so that the operator keeps their blocks),
// and fills the borrower's block.
func (c *cluster) newFiller(b *testing.B) *filler {
	b.Helper()
	pool, err := c.env.GetPool(fillPool)
	if err != nil {
		b.Fatal(err)
	}
	f := &filler{c: c, owner: map[netip.Prefix]string{}, held: map[netip.Prefix]int{}}
	if f.layout, err = pool.Spec.Layout(); err != nil {
		b.Fatal(err)
	}
	for _, claim := range c.env.PoolClaims(b, fillPool) {
		if claim.Spec.Type == ipamv1alpha1.ClaimTypeBlock {
			f.owner[netip.MustParsePrefix(claim.Spec.CIDR)] = claim.Spec.Node
		}
	}
	n, _ := f.layout.BlockCapacity().Uint64()
	for i := range n {
		block := f.layout.BlockAt(i)
		f.blocks = append(f.blocks, block)
		if _, ok := f.owner[block]; ok {
			continue
		}
		owner := fmt.Sprintf("fill-other-%02d", i)
		f.owner[block] = owner
		if err := c.env.Client.Create(context.Background(), &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: owner}}); err != nil {
			b.Fatal(err)
		}
		if err := c.env.Client.Create(context.Background(), harness.BlockClaim(fillPool, owner, block.String())); err != nil {
			b.Fatal(err)
		}
	}
	return f
}

// fillTo creates Address claims until each block holds share of its
// usable addresses (rounded down), the borrower's all of them. Each claim
// belongs to the block's node, as its pods' claims would.
func (f *filler) fillTo(b *testing.B, share float64) {
	b.Helper()
	var claims []*ipamv1alpha1.IPClaim
	for _, block := range f.blocks {
		usable := f.usable(block)
		want := int(share * float64(len(usable)))
		if f.owner[block] == borrowerNode {
			want = len(usable)
		}
		for _, addr := range usable[f.held[block]:max(want, f.held[block])] {
			owner := harness.RuntimeOwner("fill-" + addr.String())
			claims = append(claims, harness.AddressClaim(fillPool, f.owner[block], addr.String(), fillBlockBits, owner))
		}
		f.held[block] = max(want, f.held[block])
	}
	start := time.Now()
	err := parallel(len(claims), fillWriters, func(i int) error {
		return f.c.env.Client.Create(context.Background(), claims[i])
	})
	if err != nil {
		b.Fatal(err)
	}
	fmt.Printf("Filled pool %s to %.1f%%: %d claims created in %.1fs\n", fillPool, 100*f.share(), len(claims), time.Since(start).Seconds())
}

// usable returns the usable addresses of block, in order.
func (f *filler) usable(block netip.Prefix) []netip.Addr {
	var out []netip.Addr
	for a, ok := f.layout.NextIn(block, block.Addr()); ok; a, ok = f.layout.NextIn(block, a.Next()) {
		out = append(out, a)
	}
	return out
}

// share returns the share of the pool's addresses held.
func (f *filler) share() float64 {
	held := 0
	for _, n := range f.held {
		held += n
	}
	capacity, _ := f.layout.Capacity().Uint64()
	return float64(held) / float64(capacity)
}

// fillTable shows each fill level against the first.
func fillTable(b *testing.B, runs *runLog[fillRun]) *table {
	t := newTable("Fill: ADD latency by pool fill, medians of the runs; ratios are to the first level",
		"level", "pool held %", "p50 ms", "p95 ms", "p99 ms", "borrow p50 ms", "borrow p99 ms", "req/cycle", "p99 ratio", "borrow p99 ratio")
	first := fmt.Sprintf("%s/fill=%s", b.Name(), fillLevels[0].name)
	base99, baseOK := runs.median(first, func(r fillRun) float64 { return r.p99 })
	baseB99, baseBOK := runs.median(first, func(r fillRun) float64 { return r.borrowP99 })
	for _, level := range fillLevels {
		name := fmt.Sprintf("%s/fill=%s", b.Name(), level.name)
		m := func(f func(fillRun) float64) (float64, bool) { return runs.median(name, f) }
		fill, ok := m(func(r fillRun) float64 { return 100 * r.fill })
		cells := []string{level.name + "%", num(fill, ok, "%.1f")}
		for _, f := range []func(fillRun) float64{
			func(r fillRun) float64 { return r.p50 }, func(r fillRun) float64 { return r.p95 }, func(r fillRun) float64 { return r.p99 },
			func(r fillRun) float64 { return r.borrowP50 }, func(r fillRun) float64 { return r.borrowP99 },
		} {
			v, ok := m(f)
			cells = append(cells, num(v, ok, "%.1f"))
		}
		req, ok := m(func(r fillRun) float64 { return r.reqPerCycle })
		cells = append(cells, num(req, ok, "%.2f"))
		p99, ok := m(func(r fillRun) float64 { return r.p99 })
		cells = append(cells, ratio(p99, ok, base99, baseOK))
		b99, ok := m(func(r fillRun) float64 { return r.borrowP99 })
		t.add(append(cells, ratio(b99, ok, baseB99, baseBOK))...)
	}
	return t
}
