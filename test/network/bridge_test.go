package network

import (
	"context"
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/vishvananda/netlink"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
	"github.com/ipkeeper/ipkeeper/test/stack"
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
	requireRoot(t)
	ctx := context.Background()
	setUpPool(t)
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
	if claims := addressClaims(t); len(claims) != 1 || claims[ipB.String()] == nil {
		t.Fatalf("claims after a's DEL: %v; want only b's %s", keys(claims), ipB)
	}

	// b's attachment is stale: the runtime no longer lists it as valid.
	if err := cni.GCNetworkList(ctx, list, &libcni.GCArgs{ValidAttachments: []types.GCAttachment{}}); err != nil {
		t.Fatalf("GC: %v", err)
	}
	if claims := addressClaims(t); len(claims) != 0 {
		t.Fatalf("claims after GC: %v; want none", keys(claims))
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
	claim := addressClaims(t)[onLink[0].IP.String()]
	if claim == nil || claim.Spec.Owner.ContainerID != rt.ContainerID || claim.Spec.Node != nodeName {
		t.Fatalf("the address %s on %s is not claimed for %s: %+v", onLink[0].IP, ns.name, rt.ContainerID, claim)
	}
	return onLink[0].IP
}

// setUpPool creates the pool and the node, and waits until the pool is
// Ready; both go when the test ends.
func setUpPool(t *testing.T) {
	ctx := context.Background()
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: nodeName}}
	pool := &ipamv1alpha1.IPPool{
		ObjectMeta: metav1.ObjectMeta{Name: poolName},
		Spec:       ipamv1alpha1.IPPoolSpec{CIDR: "10.99.0.0/24", BlockSize: ptr.To[int32](28)},
	}
	for _, obj := range []client.Object{node, pool} {
		if err := env.Client.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { removePool(t, pool, node) })
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		err := env.Client.Get(ctx, client.ObjectKeyFromObject(pool), pool)
		return err == nil && meta.IsStatusConditionTrue(pool.Status.Conditions, ipamv1alpha1.PoolReady), nil
	})
	if err != nil {
		t.Fatalf("pool %s did not become Ready: %v", poolName, err)
	}
}

func removePool(t *testing.T, pool *ipamv1alpha1.IPPool, node *corev1.Node) {
	ctx := context.Background()
	var claims ipamv1alpha1.IPClaimList
	_ = env.Client.List(ctx, &claims, client.MatchingFields{ipamv1alpha1.FieldPool: poolName})
	for i := range claims.Items {
		_ = env.Client.Delete(ctx, &claims.Items[i])
	}
	_ = env.Client.Delete(ctx, pool)
	_ = env.Client.Delete(ctx, node)
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		return apierrors.IsNotFound(env.Client.Get(ctx, client.ObjectKeyFromObject(pool), pool)), nil
	})
	if err != nil {
		t.Errorf("pool %s was not removed: %v", poolName, err)
	}
}

// bridgeNetwork is a network of the bridge plugin with ipkeeper as IPAM. The
// bridge gets no address and the pool no gateway: the namespaces talk on
// the bridge's segment, and nothing changes in the host's routing.
func bridgeNetwork(t *testing.T, bridge string) *libcni.NetworkConfigList {
	return stack.NetworkList(t, map[string]any{
		"cniVersion": "1.1.0", "name": "ipkeeper-bridge-test",
		"plugins": []any{map[string]any{
			"type": "bridge", "bridge": bridge, "isGateway": false, "ipMasq": false,
			"ipam": map[string]any{
				"type": "ipkeeper", "pools": []string{poolName}, "kubeconfig": kubeconfig,
				"nodeName": nodeName, "dataDir": t.TempDir(), "timeout": "20s",
			},
		}},
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

// addressClaims returns the pool's Address claims by address.
func addressClaims(t *testing.T) map[string]*ipamv1alpha1.IPClaim {
	t.Helper()
	var list ipamv1alpha1.IPClaimList
	if err := env.Client.List(context.Background(), &list, client.MatchingFields{ipamv1alpha1.FieldPool: poolName}); err != nil {
		t.Fatal(err)
	}
	out := map[string]*ipamv1alpha1.IPClaim{}
	for i := range list.Items {
		if list.Items[i].Spec.Type == ipamv1alpha1.ClaimTypeAddress {
			out[list.Items[i].Spec.Address] = &list.Items[i]
		}
	}
	return out
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
