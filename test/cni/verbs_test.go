package cni

import (
	"context"
	"maps"
	"net"
	"path/filepath"
	"slices"
	"testing"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
	"github.com/ipkeeper/ipkeeper/cni/cnierr"
	"github.com/ipkeeper/ipkeeper/cni/ipamtest"
	"github.com/ipkeeper/ipkeeper/test/harness"
)

func add(t *testing.T, n *node, list *libcni.NetworkConfigList, rt *libcni.RuntimeConf) *current.Result {
	t.Helper()
	res, err := n.cni.AddNetworkList(context.Background(), list, rt)
	if err != nil {
		t.Fatalf("ADD %s: %v", rt.ContainerID, err)
	}
	result, err := current.NewResultFromResult(res)
	if err != nil {
		t.Fatal(err)
	}
	return result
}

func TestVerbsRoundTrip(t *testing.T) {
	ctx := context.Background()
	env.CreateReadyPool(t, "verbs-v4", ipamv1alpha1.IPPoolSpec{
		CIDR: "10.60.0.0/24", BlockSize: ptr.To[int32](28), Gateway: "10.60.0.1",
		Routes: []ipamv1alpha1.Route{{Dst: "0.0.0.0/0"}}, DNS: &ipamv1alpha1.DNS{Nameservers: []string{"10.96.0.10"}, Search: []string{"svc.cluster.local"}},
	})
	env.CreateReadyPool(t, "verbs-v6", ipamv1alpha1.IPPoolSpec{CIDR: "fd00:60::/64", Gateway: "fd00:60::1"})
	n := newNode(t, "node-verbs")
	list := harness.IPAMNetwork("verbsnet", n.ipamConfig("verbs-v4", "verbs-v6"))
	pod := env.CreatePod(t, "verbs", "web-0", nil)
	rt := harness.RuntimeConf("c-verbs-1", pod)

	result := add(t, n, list, rt)
	if len(result.IPs) != 2 {
		t.Fatalf("ADD returned %d addresses, want one per family: %v", len(result.IPs), result)
	}
	v4, v6 := result.IPs[0], result.IPs[1]
	if ones, _ := v4.Address.Mask.Size(); ones != 24 || !v4.Gateway.Equal(net.ParseIP("10.60.0.1")) {
		t.Errorf("IPv4 %s gateway %s; want a /24 with gateway 10.60.0.1", v4.Address.String(), v4.Gateway)
	}
	if ones, _ := v6.Address.Mask.Size(); ones != 64 || !v6.Gateway.Equal(net.ParseIP("fd00:60::1")) {
		t.Errorf("IPv6 %s gateway %s; want a /64 with gateway fd00:60::1", v6.Address.String(), v6.Gateway)
	}
	if len(result.Routes) != 1 || result.Routes[0].Dst.String() != "0.0.0.0/0" || !result.Routes[0].GW.Equal(net.ParseIP("10.60.0.1")) {
		t.Errorf("routes = %v, want 0.0.0.0/0 via the gateway", result.Routes)
	}
	if len(result.DNS.Nameservers) != 1 || result.DNS.Search[0] != "svc.cluster.local" {
		t.Errorf("DNS = %+v", result.DNS)
	}
	claim := env.AddressClaims(t, "verbs-v4")[v4.Address.IP.String()]
	owner := claim.Spec.Owner
	if owner == nil || owner.Pod != "verbs/web-0" || owner.UID != string(pod.UID) || owner.ContainerID != "c-verbs-1" ||
		owner.Interface != "eth0" || owner.Network != "verbsnet" || claim.Spec.Node != "node-verbs" {
		t.Fatalf("claim of %s = %+v, owner %+v", v4.Address.IP, claim.Spec, owner)
	}

	again := add(t, n, list, rt)
	if again.IPs[0].Address.String() != v4.Address.String() || again.IPs[1].Address.String() != v6.Address.String() {
		t.Fatalf("a repeated ADD returned %v, want %v", again.IPs, result.IPs)
	}
	if got := len(env.AddressClaims(t, "verbs-v4")) + len(env.AddressClaims(t, "verbs-v6")); got != 2 {
		t.Fatalf("%d Address claims after a repeated ADD, want 2", got)
	}

	if err := n.cni.CheckNetworkList(ctx, list, rt); err != nil {
		t.Fatalf("CHECK: %v", err)
	}
	if err := n.cni.GetStatusNetworkList(ctx, list); err != nil {
		t.Fatalf("STATUS: %v", err)
	}

	v6Claim := env.AddressClaims(t, "verbs-v6")[v6.Address.IP.String()]
	if err := env.Client.Delete(ctx, &v6Claim); err != nil {
		t.Fatal(err)
	}
	ipamtest.ExpectCNIError(t, n.cni.CheckNetworkList(ctx, list, rt), cnierr.ClaimMismatch, "is not claimed")

	for range 2 {
		if err := n.cni.DelNetworkList(ctx, list, rt); err != nil {
			t.Fatalf("DEL: %v", err)
		}
	}
	if left := len(env.AddressClaims(t, "verbs-v4")) + len(env.AddressClaims(t, "verbs-v6")); left != 0 {
		t.Fatalf("%d Address claims left after DEL", left)
	}
}

// TestStatusIgnoresPoolState fills one pool and configures another that
// does not select the node, and one that does not exist: STATUS still
// answers 0, since runtimes make a node whose STATUS fails NotReady and
// evict its pods. It answers 50 only when the plugin cannot work at all:
// the API server does not answer, or refuses its credentials.
func TestStatusIgnoresPoolState(t *testing.T) {
	env.CreateReadyPool(t, "status-tiny", ipamv1alpha1.IPPoolSpec{CIDR: "10.61.0.0/31"})
	env.CreateReadyPool(t, "status-rack9", ipamv1alpha1.IPPoolSpec{CIDR: "10.61.1.0/24",
		NodeSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"rack": "9"}}})
	n := newNode(t, "node-status")
	list := harness.IPAMNetwork("statusnet", n.ipamConfig("status-tiny", "status-rack9", "status-missing"))
	tiny := harness.IPAMNetwork("statusnet", n.ipamConfig("status-tiny"))
	add(t, n, tiny, harness.RuntimeConf("c-status-1", nil))
	add(t, n, tiny, harness.RuntimeConf("c-status-2", nil))
	env.WaitForPool(t, "status-tiny", func(p *ipamv1alpha1.IPPool) bool {
		return meta.IsStatusConditionTrue(p.Status.Conditions, ipamv1alpha1.PoolExhausted)
	})
	if err := n.cni.GetStatusNetworkList(context.Background(), list); err != nil {
		t.Fatalf("STATUS with an exhausted, an unselected and a missing pool: %v; want 0", err)
	}

	refused := *env.Config
	refused.CertData, refused.KeyData, refused.BearerToken = nil, nil, "not-a-token"
	ipamtest.ExpectCNIError(t, n.cni.GetStatusNetworkList(context.Background(), networkWithConfig(t, n, &refused, "status-tiny")),
		types.ErrPluginNotAvailable, "ipkeeper cannot allocate: the API server refuses the plugin's credentials")
	ipamtest.ExpectCNIError(t, n.cni.GetStatusNetworkList(context.Background(), unreachableNetwork(t, n, closedAddr(t))),
		types.ErrPluginNotAvailable, "ipkeeper cannot allocate: the API server does not answer")

	// Before the node agent has written the kubeconfig, the configuration
	// does not load: an ADD says so with 7, STATUS with 50.
	unwritten := n.ipamConfig("status-tiny")
	unwritten["kubeconfig"] = filepath.Join(t.TempDir(), "not-yet", "ipkeeper.kubeconfig")
	notYet := harness.IPAMNetwork("statusnet", unwritten)
	_, err := n.cni.AddNetworkList(context.Background(), notYet, harness.RuntimeConf("c-status-3", nil))
	ipamtest.ExpectCNIError(t, err, types.ErrInvalidNetworkConfig, "the node agent writes it; check ipam.kubeconfig")
	ipamtest.ExpectCNIError(t, n.cni.GetStatusNetworkList(context.Background(), notYet),
		types.ErrPluginNotAvailable, "the node agent writes it; check ipam.kubeconfig")
}

func TestGCReleasesStaleAttachments(t *testing.T) {
	ctx := context.Background()
	env.CreateReadyPool(t, "gc-pool", ipamv1alpha1.IPPoolSpec{CIDR: "10.62.0.0/24"})
	n := newNode(t, "node-gc")
	list := harness.IPAMNetwork("gcnet", n.ipamConfig("gc-pool"))
	kept, cached := harness.RuntimeConf("c-gc-kept", nil), harness.RuntimeConf("c-gc-cached", nil)
	keptIP := add(t, n, list, kept).IPs[0].Address.IP.String()
	add(t, n, list, cached)

	// A claim with no attachment in the runtime's cache, as a crash between
	// the create and the runtime's bookkeeping leaves behind.
	stale := &ipamv1alpha1.IPClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "10.62.0.200", Labels: map[string]string{
			ipamv1alpha1.LabelPool: "gc-pool", ipamv1alpha1.LabelNode: "node-gc", ipamv1alpha1.LabelBlock: "10.62.0.0-24"}},
		Spec: ipamv1alpha1.IPClaimSpec{Pool: "gc-pool", Type: ipamv1alpha1.ClaimTypeAddress, Node: "node-gc", Address: "10.62.0.200",
			Owner: &ipamv1alpha1.ClaimOwner{ContainerID: "c-gc-crashed", Interface: "eth0", Network: "gcnet"}},
	}
	if err := env.Client.Create(ctx, stale); err != nil {
		t.Fatal(err)
	}
	// Another network's claim on this node is none of this GC's business.
	other := stale.DeepCopy()
	other.Name, other.Spec.Address, other.ResourceVersion = "10.62.0.201", "10.62.0.201", ""
	other.Spec.Owner.ContainerID, other.Spec.Owner.Network = "c-other", "othernet"
	if err := env.Client.Create(ctx, other); err != nil {
		t.Fatal(err)
	}

	err := n.cni.GCNetworkList(ctx, list, &libcni.GCArgs{ValidAttachments: []types.GCAttachment{{ContainerID: "c-gc-kept", IfName: "eth0"}}})
	if err != nil {
		t.Fatalf("GC: %v", err)
	}
	claims := env.AddressClaims(t, "gc-pool")
	if len(claims) != 2 {
		t.Fatalf("claims after GC: %v; want only %s and the other network's 10.62.0.201", slices.Collect(maps.Keys(claims)), keptIP)
	}
	if _, ok := claims[keptIP]; !ok {
		t.Fatalf("GC released the valid attachment's %s", keptIP)
	}
}
