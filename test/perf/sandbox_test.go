package perf

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/containernetworking/cni/libcni"
	current "github.com/containernetworking/cni/pkg/types/100"

	"github.com/ipkeeper/ipkeeper/test/harness"
)

// containerSeq numbers sandboxes: every ADD is for a new container ID.
var containerSeq atomic.Int64

func nextContainerID() string {
	return fmt.Sprintf("c-bench-%07d", containerSeq.Add(1))
}

// nodeNames returns n node names with prefix.
func nodeNames(prefix string, n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("%s-%02d", prefix, i)
	}
	return names
}

// sandbox is a pod sandbox an ADD gave an address, until its DEL.
type sandbox struct {
	node    *simNode
	network *libcni.NetworkConfigList
	rt      *libcni.RuntimeConf
	addr    netip.Addr
}

// add runs the ADD of a new sandbox of the cluster's pod on node, through
// libcni as a runtime does: the plugin is a process of its own. args are
// more CNI_ARGS. It returns the sandbox and how long the ADD took.
func (c *cluster) add(ctx context.Context, node *simNode, network *libcni.NetworkConfigList, args ...[2]string) (*sandbox, time.Duration, error) {
	rt := harness.RuntimeConf(nextContainerID(), c.pod)
	rt.Args = append(rt.Args, args...)
	start := time.Now()
	res, err := node.cni.AddNetworkList(ctx, network, rt)
	took := time.Since(start)
	if err != nil {
		return nil, took, fmt.Errorf("ADD of %s on %s: %w", rt.ContainerID, node.name, err)
	}
	result, err := current.NewResultFromResult(res)
	if err != nil {
		return nil, took, fmt.Errorf("ADD of %s on %s: read result %v: %w", rt.ContainerID, node.name, res, err)
	}
	if len(result.IPs) != 1 {
		return nil, took, fmt.Errorf("ADD of %s on %s: result %v, want one address", rt.ContainerID, node.name, res)
	}
	addr, _ := netip.AddrFromSlice(result.IPs[0].Address.IP.To4())
	return &sandbox{node: node, network: network, rt: rt, addr: addr}, took, nil
}

// del runs the sandbox's DEL and returns how long it took.
func (s *sandbox) del(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	if err := s.node.cni.DelNetworkList(ctx, s.network, s.rt); err != nil {
		return time.Since(start), fmt.Errorf("DEL of %s on %s: %w", s.rt.ContainerID, s.node.name, err)
	}
	return time.Since(start), nil
}

// parallel runs op(0) to op(n-1) on conc goroutines and returns the
// first error; after an error no new op starts.
func parallel(n, conc int, op func(i int) error) error {
	var next atomic.Int64
	var mu sync.Mutex
	var first error
	var wg sync.WaitGroup
	for range min(conc, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				mu.Lock()
				stop := i >= n || first != nil
				mu.Unlock()
				if stop {
					return
				}
				if err := op(i); err != nil {
					mu.Lock()
					first = errors.Join(first, err)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return first
}

// addMany runs n ADDs at concurrency conc, spread over the nodes in
// turn, and returns the sandboxes and the ADDs' latencies. The sandboxes
// all live at once, so their addresses must all differ: a duplicate fails
// the benchmark.
func (c *cluster) addMany(b *testing.B, n, conc int, add func(i int) (*sandbox, time.Duration, error)) ([]*sandbox, latencies) {
	b.Helper()
	sandboxes := make([]*sandbox, n)
	lat := make(latencies, n)
	err := parallel(n, conc, func(i int) error {
		var err error
		sandboxes[i], lat[i], err = add(i)
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := unique(sandboxes); err != nil {
		b.Fatal(err)
	}
	return sandboxes, lat
}

// unique fails when two sandboxes hold the same address.
func unique(sandboxes []*sandbox) error {
	holder := make(map[netip.Addr]string, len(sandboxes))
	for _, s := range sandboxes {
		if other, ok := holder[s.addr]; ok {
			return fmt.Errorf("address %s handed out twice at once: to %s and %s", s.addr, other, s.rt.ContainerID)
		}
		holder[s.addr] = s.rt.ContainerID
	}
	return nil
}

// delMany runs the DELs of sandboxes at concurrency conc and returns their
// latencies.
func delMany(b *testing.B, sandboxes []*sandbox, conc int) latencies {
	b.Helper()
	lat := make(latencies, len(sandboxes))
	err := parallel(len(sandboxes), conc, func(i int) error {
		var err error
		lat[i], err = sandboxes[i].del(context.Background())
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	return lat
}

// warm runs one ADD and its DEL on every node in pool, outside the timed
// part: a node's first ADD claims its block, which it keeps.
func (c *cluster) warm(b *testing.B, pool string) {
	b.Helper()
	for _, n := range c.nodes {
		s, _, err := c.add(context.Background(), n, n.network("ipkeeper", pool))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.del(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}

// expectNoAddressClaims fails unless pool holds no Address claim: every
// DEL released its claim.
func (c *cluster) expectNoAddressClaims(b *testing.B, pool string) {
	b.Helper()
	if left := c.env.AddressClaims(b, pool); len(left) > 0 {
		names := make([]string, 0, len(left))
		for addr, claim := range left {
			names = append(names, addr+" ("+claim.Spec.Owner.ContainerID+")")
		}
		b.Fatalf("%d Address claims of pool %s are left after every sandbox was deleted: %v", len(left), pool, names)
	}
}
