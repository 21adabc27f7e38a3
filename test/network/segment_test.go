package network

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
	"github.com/ipkeeper/ipkeeper/test/harness"
)

const (
	// segmentPool is the pool of the bridge network that spans both nodes;
	// its gateway stands for the segment's router.
	segmentPool = "segment-pool"
	// macvlanPool is the pool of the macvlan network, chosen by the pods'
	// annotation for that network.
	macvlanPool = "macvlan-pool"
	// The CNI network names: with Multus, the NetworkAttachmentDefinitions'.
	segmentNetwork = "ipk-segment"
	macvlanNetwork = "ipk-macvlan"
	// Interfaces of each node's namespace: the bridge, the veth end that
	// joins it to the other node's, and the macvlan parent, joined to the
	// other node's parent by a second veth pair.
	nodeBridge    = "br0"
	segmentLink   = "seg0"
	macvlanParent = "mv0"
)

// simNode is a simulated node: a network namespace of its own, standing for
// the host, where the reference plugins run and create their links, with
// its own node name, data dir and libcni cache. The node's namespace has no
// route to the test's API server, which a real node's host has: ipkeeper,
// which never touches a link, runs through a wrapper (reachAPIServer) that
// puts it back in the test's own namespace.
type simNode struct {
	name    string
	ns      netNS
	dataDir string
	cni     *libcni.CNIConfig
}

// TestTwoNodesOnOneSegment runs the flat L2 topology: two nodes, each with
// its own bridge, the bridges joined into one segment, pods of both nodes
// on one pool (in each node's block) reaching each other; then macvlan on a
// parent the nodes share, as a second network of the same pods with its own
// pool chosen by their annotation for that network, and a static address
// asked for through runtimeConfig.ips, as Multus passes it.
func TestTwoNodesOnOneSegment(t *testing.T) {
	harness.RequireRoot(t)
	path := reachAPIServer(t)
	a, b := newSimNode(t, "node-seg-a", "ipk-na", path), newSimNode(t, "node-seg-b", "ipk-nb", path)
	join(t, a, b, segmentLink, nodeBridge)
	join(t, a, b, macvlanParent, "")
	env.CreateReadyPool(t, segmentPool, ipamv1alpha1.IPPoolSpec{CIDR: "10.98.0.0/24", BlockSize: ptr.To[int32](28), Gateway: "10.98.0.1"})
	env.CreateReadyPool(t, macvlanPool, ipamv1alpha1.IPPoolSpec{CIDR: "10.97.0.0/24", BlockSize: ptr.To[int32](28)})
	multus := map[string]string{
		ipamv1alpha1.MultusNetworksAnnotation:               macvlanNetwork,
		ipamv1alpha1.NetworkPoolsAnnotation(macvlanNetwork): macvlanPool,
	}
	podA, podB := env.CreatePod(t, "network", "pod-a", multus), env.CreatePod(t, "network", "pod-b", multus)
	nsA, nsB := namespace(t, "ipk-pa"), namespace(t, "ipk-pb")

	ipA := a.attach(t, a.segmentNetwork(), podA, nsA, "eth0")
	ipB := b.attach(t, b.segmentNetwork(), podB, nsB, "eth0")
	expectPing(t, nsA, nsB, ipA, ipB)
	expectOwnBlocks(t, map[string]net.IP{a.name: ipA, b.name: ipB})

	mvA := a.attach(t, a.macvlanNetwork(), podA, nsA, "net1")
	mvB := b.attach(t, b.macvlanNetwork(), podB, nsB, "net1", "10.97.0.50/24")
	if mvB.String() != "10.97.0.50" {
		t.Fatalf("runtimeConfig.ips asked for 10.97.0.50/24 on pod-b's macvlan interface; it got %s", mvB)
	}
	claims := env.AddressClaims(t, macvlanPool)
	for _, ip := range []net.IP{mvA, mvB} {
		if c, ok := claims[ip.String()]; !ok || c.Spec.Owner.Network != macvlanNetwork || c.Spec.Owner.Interface != "net1" {
			t.Fatalf("macvlan address %s is not claimed in %s for interface net1 of network %s: %+v", ip, macvlanPool, macvlanNetwork, c)
		}
	}
	expectPing(t, nsA, nsB, mvA, mvB)
}

// reachAPIServer returns the CNI_PATH of the simulated nodes: cniPath after
// a directory whose ipkeeper is a script that runs the real one in the
// test's own network namespace, where the API server is.
func reachAPIServer(t *testing.T) []string {
	t.Helper()
	nsenter, err := exec.LookPath("nsenter")
	if err != nil {
		t.Fatalf("the simulated nodes run ipkeeper through nsenter (util-linux), which is not installed: %v", err)
	}
	host, err := nameCurrentNetNS(fmt.Sprintf("ipk-host-%d", os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := host.delete(); err != nil {
			t.Errorf("remove the name of the test's network namespace: %v", err)
		}
	})
	dir := t.TempDir()
	script := fmt.Sprintf("#!/bin/sh\nexec %s --net=%s %s \"$@\"\n", nsenter, host.path(), filepath.Join(cniPath[0], "ipkeeper"))
	if err := os.WriteFile(filepath.Join(dir, "ipkeeper"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return append([]string{dir}, cniPath...)
}

// newSimNode creates the node's namespace (removed when the test ends, with
// every link in it), its Node object and its bridge; its runtime finds the
// plugins in path.
func newSimNode(t *testing.T, name, nsPrefix string, path []string) *simNode {
	t.Helper()
	env.CreateNode(t, name)
	n := &simNode{name: name, ns: namespace(t, nsPrefix), dataDir: t.TempDir()}
	n.cni = libcni.NewCNIConfigWithCacheDir(path, t.TempDir(), nil)
	err := n.ns.do(func() error {
		attrs := netlink.NewLinkAttrs()
		attrs.Name = nodeBridge
		if err := netlink.LinkAdd(&netlink.Bridge{LinkAttrs: attrs}); err != nil {
			return err
		}
		return setUp(nodeBridge, "")
	})
	if err != nil {
		t.Fatalf("create bridge %s in node %s: %v", nodeBridge, name, err)
	}
	return n
}

// join links nodes a and b by a veth pair whose ends are both called name,
// each enslaved to the node's bridge when bridge is set.
func join(t *testing.T, a, b *simNode, name, bridge string) {
	t.Helper()
	err := a.ns.do(func() error {
		peer, err := netns.GetFromName(b.ns.name)
		if err != nil {
			return err
		}
		defer func() { _ = peer.Close() }()
		// The kernel's default transmit queue length on both ends: an end
		// made with a length of 0 loses its carrier for good.
		attrs := netlink.NewLinkAttrs()
		attrs.Name = name
		return netlink.LinkAdd(&netlink.Veth{LinkAttrs: attrs, PeerName: name, PeerTxQLen: -1, PeerNamespace: netlink.NsFd(int(peer))})
	})
	for _, n := range []*simNode{a, b} {
		if err == nil {
			err = n.ns.do(func() error { return setUp(name, bridge) })
		}
	}
	for _, n := range []*simNode{a, b} {
		if err == nil {
			err = n.ns.waitUp(name)
		}
	}
	if err != nil {
		t.Fatalf("join nodes %s and %s by %s: %v", a.name, b.name, name, err)
	}
}

// setUp sets link name up, enslaved to bridge when it is set.
func setUp(name, bridge string) error {
	link, err := netlink.LinkByName(name)
	if err != nil {
		return err
	}
	if bridge != "" {
		master, err := netlink.LinkByName(bridge)
		if err != nil {
			return err
		}
		if err := netlink.LinkSetMaster(link, master); err != nil {
			return err
		}
	}
	return netlink.LinkSetUp(link)
}

// segmentNetwork is the node's bridge network: the bridge spans the nodes,
// so every pod gets the pool's prefix and the pool's gateway (the segment's
// router), and the node's blocks only split the allocation work.
func (n *simNode) segmentNetwork() *libcni.NetworkConfigList {
	return harness.NetworkList(segmentNetwork, map[string]any{
		"type": "bridge", "bridge": nodeBridge, "isGateway": false, "ipMasq": false,
		"ipam": harness.IPAMConfig(kubeconfig, n.name, n.dataDir, segmentPool),
	})
}

// macvlanNetwork is the node's macvlan network on the shared parent. It
// lists the segment's pool, which the pods' annotation for the network
// overrides, and declares the ips capability.
func (n *simNode) macvlanNetwork() *libcni.NetworkConfigList {
	return harness.NetworkList(macvlanNetwork, map[string]any{
		"type": "macvlan", "master": macvlanParent, "mode": "bridge", "capabilities": map[string]bool{"ips": true},
		"ipam": harness.IPAMConfig(kubeconfig, n.name, n.dataDir, segmentPool),
	})
}

// attach ADDs pod's interface ifName on list inside the node's namespace,
// as the node's runtime would, asking for ips through the ips capability;
// DELs it when the test ends. It returns the address on the interface,
// after checking that the ADD returned it.
func (n *simNode) attach(t *testing.T, list *libcni.NetworkConfigList, pod *corev1.Pod, podNS netNS, ifName string, ips ...string) net.IP {
	t.Helper()
	rt := harness.RuntimeConf("c-"+pod.Name, pod)
	rt.NetNS, rt.IfName = podNS.path(), ifName
	if len(ips) > 0 {
		rt.CapabilityArgs = map[string]any{"ips": ips}
	}
	var res types.Result
	err := n.ns.do(func() error {
		var err error
		res, err = n.cni.AddNetworkList(context.Background(), list, rt)
		return err
	})
	if err != nil {
		t.Fatalf("ADD %s of %s on node %s: %v", ifName, pod.Name, n.name, err)
	}
	t.Cleanup(func() {
		if err := n.ns.do(func() error { return n.cni.DelNetworkList(context.Background(), list, rt) }); err != nil {
			t.Errorf("DEL %s of %s on node %s: %v", ifName, pod.Name, n.name, err)
		}
	})
	result, err := current.NewResultFromResult(res)
	if err != nil || len(result.IPs) != 1 {
		t.Fatalf("ADD %s of %s returned %v, %v", ifName, pod.Name, res, err)
	}
	onLink, err := podNS.addresses(ifName)
	if err != nil || len(onLink) != 1 || onLink[0].String() != result.IPs[0].Address.String() {
		t.Fatalf("%s of %s carries %v (%v); the ADD returned %s", ifName, pod.Name, onLink, err, result.IPs[0].Address.String())
	}
	return onLink[0].IP
}

// expectPing checks that the pods of namespaces a and b reach each other at
// ipA and ipB.
func expectPing(t *testing.T, a, b netNS, ipA, ipB net.IP) {
	t.Helper()
	if err := a.ping(ipB); err != nil {
		t.Fatalf("ping from %s to %s: %v", a.name, ipB, err)
	}
	if err := b.ping(ipA); err != nil {
		t.Fatalf("ping from %s to %s: %v", b.name, ipA, err)
	}
}

// expectOwnBlocks checks that each node's address of the segment's pool
// lies in a block that node claimed, a different one for each node.
func expectOwnBlocks(t *testing.T, byNode map[string]net.IP) {
	t.Helper()
	owners := map[string]string{} // block claim name -> node
	for _, c := range env.PoolClaims(t, segmentPool) {
		if c.Spec.Type == ipamv1alpha1.ClaimTypeBlock {
			owners[c.Name] = c.Spec.Node
		}
	}
	claims := env.AddressClaims(t, segmentPool)
	seen := map[string]string{}
	for node, ip := range byNode {
		block := claims[ip.String()].Labels[ipamv1alpha1.LabelBlock]
		if owners[block] != node {
			t.Fatalf("%s of node %s lies in block %q, which node %q claimed; want a block of its own node", ip, node, block, owners[block])
		}
		if other, ok := seen[block]; ok {
			t.Fatalf("nodes %s and %s share block %s", node, other, block)
		}
		seen[block] = node
	}
}
