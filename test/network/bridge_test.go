package network

import (
	"context"
	"fmt"
	"maps"
	"net"
	"os"
	"slices"
	"testing"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/vishvananda/netlink"
	"k8s.io/utils/ptr"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
	"github.com/ipkeeper/ipkeeper/test/harness"
)

const (
	poolName = "bridge-pool"
	nodeName = "node-bridge"
)

// TestBridgeWithIPKeeper puts two network namespaces on one bridge with the
// reference bridge plugin and ipkeeper as its IPAM: the interfaces carry
// exactly the claimed addresses, the namespaces ping each other, DEL
// releases the claims, and the runtime's GC releases a stale attachment.
// The namespaces and the bridge are removed afterwards.
func TestBridgeWithIPKeeper(t *testing.T) {
	harness.RequireRoot(t)
	ctx := context.Background()
	env.CreateNode(t, nodeName)
	env.CreateReadyPool(t, poolName, ipamv1alpha1.IPPoolSpec{CIDR: "10.99.0.0/24", BlockSize: ptr.To[int32](28)})
	bridge := fmt.Sprintf("ipkbr%d", os.Getpid()%100000)
	t.Cleanup(func() { deleteLink(t, bridge) })
	list := bridgeNetwork(t, bridge)
	cni := libcni.NewCNIConfigWithCacheDir(cniPath, t.TempDir(), nil)

	a, b := namespace(t, "ipk-a"), namespace(t, "ipk-b")
	rtA := &libcni.RuntimeConf{ContainerID: "c-bridge-a", NetNS: a.path(), IfName: "eth0"}
	rtB := &libcni.RuntimeConf{ContainerID: "c-bridge-b", NetNS: b.path(), IfName: "eth0"}
	ipA, ipB := addAndCheck(t, cni, list, rtA, a), addAndCheck(t, cni, list, rtB, b)

	if err := a.ping(ipB); err != nil {
		t.Fatalf("ping from a to b: %v", err)
	}
	if err := b.ping(ipA); err != nil {
		t.Fatalf("ping from b to a: %v", err)
	}

	if err := cni.DelNetworkList(ctx, list, rtA); err != nil {
		t.Fatalf("DEL a: %v", err)
	}
	claims := env.AddressClaims(t, poolName)
	if _, ok := claims[ipB.String()]; len(claims) != 1 || !ok {
		t.Fatalf("claims after a's DEL: %v; want only b's %s", slices.Collect(maps.Keys(claims)), ipB)
	}

	// b's attachment is stale: the runtime no longer lists it as valid.
	if err := cni.GCNetworkList(ctx, list, &libcni.GCArgs{ValidAttachments: []types.GCAttachment{}}); err != nil {
		t.Fatalf("GC: %v", err)
	}
	if claims = env.AddressClaims(t, poolName); len(claims) != 0 {
		t.Fatalf("claims after GC: %v; want none", slices.Collect(maps.Keys(claims)))
	}
}

// addAndCheck ADDs the attachment and checks that the address on the
// interface is the one ipkeeper claimed for the container.
func addAndCheck(t *testing.T, cni *libcni.CNIConfig, list *libcni.NetworkConfigList, rt *libcni.RuntimeConf, ns netNS) net.IP {
	t.Helper()
	res, err := cni.AddNetworkList(context.Background(), list, rt)
	if err != nil {
		t.Fatalf("ADD %s: %v", rt.ContainerID, err)
	}
	result, err := current.NewResultFromResult(res)
	if err != nil || len(result.IPs) != 1 {
		t.Fatalf("ADD %s returned %v, %v", rt.ContainerID, res, err)
	}
	onLink, err := ns.addresses(rt.IfName)
	if err != nil {
		t.Fatalf("read the addresses of %s in %s: %v", rt.IfName, ns.name, err)
	}
	if len(onLink) != 1 || onLink[0].String() != result.IPs[0].Address.String() {
		t.Fatalf("%s in %s carries %v; the ADD returned %s", rt.IfName, ns.name, onLink, result.IPs[0].Address.String())
	}
	claim, ok := env.AddressClaims(t, poolName)[onLink[0].IP.String()]
	if !ok || claim.Spec.Owner.ContainerID != rt.ContainerID || claim.Spec.Node != nodeName {
		t.Fatalf("the address %s on %s is not claimed for %s: %+v", onLink[0].IP, ns.name, rt.ContainerID, claim)
	}
	return onLink[0].IP
}

// bridgeNetwork is a network of the bridge plugin with ipkeeper as IPAM. The
// bridge gets no address and the pool no gateway: the namespaces talk on
// the bridge's segment, and nothing changes in the host's routing.
func bridgeNetwork(t *testing.T, bridge string) *libcni.NetworkConfigList {
	return harness.NetworkList("ipkeeper-bridge-test", map[string]any{
		"type": "bridge", "bridge": bridge, "isGateway": false, "ipMasq": false,
		"ipam": harness.IPAMConfig(kubeconfig, nodeName, t.TempDir(), poolName),
	})
}

// namespace creates a network namespace that is deleted when the test ends.
func namespace(t *testing.T, prefix string) netNS {
	t.Helper()
	ns, err := newNetNS(fmt.Sprintf("%s-%d", prefix, os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := ns.delete(); err != nil {
			t.Errorf("delete network namespace %s: %v", ns.name, err)
		}
	})
	return ns
}

// deleteLink removes a link of the host's namespace, if it exists.
func deleteLink(t *testing.T, name string) {
	link, err := netlink.LinkByName(name)
	if err != nil {
		return
	}
	if err := netlink.LinkDel(link); err != nil {
		t.Errorf("delete %s: %v", name, err)
	}
}
