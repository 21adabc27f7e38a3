package cni

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"

	"github.com/containernetworking/cni/libcni"
	"k8s.io/utils/ptr"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
	"github.com/ipkeeper/ipkeeper/test/harness"
)

// TestConcurrentAddsOnManyNodes runs 200 ADDs at once, each a separate
// plugin process with its node's own credential as installed, spread over
// 10 simulated nodes whose blocks are small enough that every node claims
// several and borrows none: every address is distinct and exactly one
// claim exists per ADD. Then all DELs leave none.
func TestConcurrentAddsOnManyNodes(t *testing.T) {
	const nodes, perNode = 10, 20
	ctx := context.Background()
	env.InstallRendered(t, "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding")
	env.CreateReadyPool(t, "burst", ipamv1alpha1.IPPoolSpec{CIDR: "10.70.0.0/22", BlockSize: ptr.To[int32](28)})

	type attachment struct {
		node *node
		list *libcni.NetworkConfigList
		rt   *libcni.RuntimeConf
	}
	var attachments []attachment
	for i := range nodes {
		n := newBoundNode(t, fmt.Sprintf("burst-node-%02d", i))
		ipam := n.ipamConfig("burst")
		// A node's ADDs take its lock in turn, and 200 processes share two
		// cores with other tests: this test is about distinct addresses,
		// not about how long the last ADD waited.
		ipam["timeout"] = "2m"
		list := harness.IPAMNetwork("burstnet", ipam)
		for j := range perNode {
			attachments = append(attachments, attachment{n, list, harness.RuntimeConf(fmt.Sprintf("c-burst-%02d-%02d", i, j), nil)})
		}
	}

	addresses := make([]string, len(attachments))
	var wg sync.WaitGroup
	errs := make(chan error, len(attachments))
	for i, a := range attachments {
		wg.Go(func() {
			res, err := a.node.cni.AddNetworkList(ctx, a.list, a.rt)
			if err != nil {
				errs <- fmt.Errorf("ADD %s on %s: %w", a.rt.ContainerID, a.node.name, err)
				return
			}
			addresses[i] = resultIP(t, res)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}

	claims := env.AddressClaims(t, "burst")
	seen := map[string]bool{}
	for i, addr := range addresses {
		if seen[addr] {
			t.Fatalf("address %s was handed out twice", addr)
		}
		seen[addr] = true
		claim, ok := claims[addr]
		if !ok || claim.Spec.Owner.ContainerID != attachments[i].rt.ContainerID || claim.Spec.Node != attachments[i].node.name {
			t.Fatalf("address %s of %s has claim %+v", addr, attachments[i].rt.ContainerID, claim.Spec)
		}
	}
	if len(claims) != len(attachments) {
		t.Fatalf("%d Address claims for %d ADDs", len(claims), len(attachments))
	}

	errs = make(chan error, len(attachments))
	for _, a := range attachments {
		wg.Go(func() {
			if err := a.node.cni.DelNetworkList(ctx, a.list, a.rt); err != nil {
				errs <- fmt.Errorf("DEL %s: %w", a.rt.ContainerID, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if left := env.AddressClaims(t, "burst"); len(left) != 0 {
		t.Fatalf("%d Address claims left after every DEL: %v", len(left), slices.Collect(maps.Keys(left)))
	}
	if err := attachments[0].node.cni.DelNetworkList(ctx, attachments[0].list, attachments[0].rt); err != nil {
		t.Fatalf("a repeated DEL failed: %v", err)
	}
}
