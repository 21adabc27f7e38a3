package cni

import (
	"context"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/invoke"
	"github.com/containernetworking/cni/pkg/types"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
	"github.com/ipkeeper/ipkeeper/cni/cnierr"
	"github.com/ipkeeper/ipkeeper/cni/ipamtest"
	"github.com/ipkeeper/ipkeeper/test/harness"
)

// TestBadInputGetsItsErrorAndLeavesNoClaim feeds the plugin every kind of
// bad input a node can meet and checks the CNI error code and message, and
// that not a single claim was left behind.
func TestBadInputGetsItsErrorAndLeavesNoClaim(t *testing.T) {
	env.CreateReadyPool(t, "bad-main", ipamv1alpha1.IPPoolSpec{CIDR: "10.80.0.0/24", Gateway: "10.80.0.1"})
	env.CreateReadyPool(t, "bad-rack", ipamv1alpha1.IPPoolSpec{CIDR: "10.81.0.0/24",
		NodeSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"rack": "r1"}}})
	env.CreateReadyPool(t, "bad-off", ipamv1alpha1.IPPoolSpec{CIDR: "10.82.0.0/24"})
	env.SetPoolDisabled(t, "bad-off", true)
	env.CreateReadyPool(t, "bad-full", ipamv1alpha1.IPPoolSpec{CIDR: "10.83.0.0/30"})
	n := newNode(t, "node-bad")
	fill := harness.IPAMNetwork("badnet", n.ipamConfig("bad-full"))
	add(t, n, fill, harness.RuntimeConf("c-bad-fill-1", nil))
	add(t, n, fill, harness.RuntimeConf("c-bad-fill-2", nil))
	holder := env.CreatePod(t, "bad", "holder", map[string]string{ipamv1alpha1.AnnotationIPs: "10.80.0.50"})
	add(t, n, harness.IPAMNetwork("badnet", n.ipamConfig("bad-main")), harness.RuntimeConf("c-bad-holder", holder))

	garbage := filepath.Join(t.TempDir(), "garbage.kubeconfig")
	if err := os.WriteFile(garbage, []byte("this: [is not a kubeconfig"), 0o600); err != nil {
		t.Fatal(err)
	}
	withIPAM := func(change func(map[string]any)) *libcni.NetworkConfigList {
		ipam := n.ipamConfig("bad-main")
		change(ipam)
		return harness.IPAMNetwork("badnet", ipam)
	}
	main := harness.IPAMNetwork("badnet", n.ipamConfig("bad-main"))
	podWith := func(name, key, value string) *libcni.RuntimeConf {
		return harness.RuntimeConf("c-bad-"+name, env.CreatePod(t, "bad", name, map[string]string{key: value}))
	}
	tests := []refusedADD{
		{"pools is not a list", withIPAM(func(m map[string]any) { m["pools"] = "bad-main" }), nil,
			types.ErrInvalidNetworkConfig, `key "pools" holds a JSON string; it must be a list of pool names`},
		{"unknown key", withIPAM(func(m map[string]any) { m["pool"] = []string{"bad-main"} }), nil,
			types.ErrInvalidNetworkConfig, `unknown key "pool"`},
		{"missing kubeconfig", withIPAM(func(m map[string]any) { m["kubeconfig"] = "/nonexistent/ipkeeper.kubeconfig" }), nil,
			types.ErrInvalidNetworkConfig, "read kubeconfig /nonexistent/ipkeeper.kubeconfig"},
		{"unreadable kubeconfig", withIPAM(func(m map[string]any) { m["kubeconfig"] = garbage }), nil,
			types.ErrInvalidNetworkConfig, "read kubeconfig " + garbage},
		{"node name that is no node's", withIPAM(func(m map[string]any) { m["nodeName"] = "../Node_A" }), nil,
			types.ErrInvalidNetworkConfig, `node name "../Node_A" is not a Kubernetes node name`},
		{"unknown pool", withIPAM(func(m map[string]any) { m["pools"] = []string{"bad-nope"} }), nil,
			cnierr.PoolUnavailable, "pool bad-nope does not exist"},
		{"pool does not select the node", withIPAM(func(m map[string]any) { m["pools"] = []string{"bad-rack"} }), nil,
			cnierr.NodeNotSelected, "pool bad-rack does not select node node-bad"},
		{"disabled pool", withIPAM(func(m map[string]any) { m["pools"] = []string{"bad-off"} }), nil,
			cnierr.PoolUnavailable, "pool bad-off is disabled"},
		{"exhausted pool", fill, nil, cnierr.PoolExhausted, "pool bad-full is exhausted (2/2 in use)"},
		{"malformed address annotation", main, podWith("malformed", ipamv1alpha1.AnnotationIPs, "10.80.0.999"),
			cnierr.BadAnnotation, `"10.80.0.999" is not an IPv4 or IPv6 address`},
		{"address outside the pools", main, podWith("outside", ipamv1alpha1.AnnotationIPs, "192.168.7.7"),
			cnierr.BadAnnotation, "address 192.168.7.7 asked for in annotation ipam.ipkeeper.dev/ips lies in none of the pools"},
		{"gateway asked for", main, podWith("gateway", ipamv1alpha1.AnnotationIPs, "10.80.0.1"),
			cnierr.BadAnnotation, "is the gateway of 10.80.0.0/24"},
		{"address held by another pod", main, podWith("thief", ipamv1alpha1.AnnotationIPs, "10.80.0.50"),
			cnierr.AddressHeld, "address 10.80.0.50 asked for in annotation ipam.ipkeeper.dev/ips is held by pod bad/holder"},
		{"pool annotation naming no pool", main, podWith("nopool", ipamv1alpha1.AnnotationPools, "bad-ghost"),
			cnierr.PoolUnavailable, "pool bad-ghost does not exist"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.rt == nil {
				tt.rt = harness.RuntimeConf(fmt.Sprintf("c-bad-%d", i), nil)
			}
			tt.expect(t, n)
		})
	}
}

// TestMalformedJSONIsRefused execs the plugin with a configuration that is
// not JSON, which libcni itself would refuse to send.
func TestMalformedJSONIsRefused(t *testing.T) {
	args := &invoke.Args{Command: "ADD", ContainerID: "c-bad-json", NetNS: harness.AbsentNetNS, IfName: "eth0", Path: binDir}
	_, err := invoke.ExecPluginWithResult(context.Background(), filepath.Join(binDir, "ipkeeper"),
		[]byte(`{"cniVersion": "1.1.0", "name": "badnet", "ipam": {"type": "ipkeeper"`), args, nil)
	ipamtest.ExpectCNIError(t, err, types.ErrDecodingFailure, "unexpected end of JSON input")
}

// TestUnreachableAPIServerIsTryAgainLater points the plugin at an address
// that refuses connections and at one that never answers: an ADD fails with
// code 11 within the configured timeout and no claim appears; a DEL fails
// the same way and its claim stays, so the runtime retries the DEL instead
// of leaking the address.
func TestUnreachableAPIServerIsTryAgainLater(t *testing.T) {
	env.CreateReadyPool(t, "unreachable", ipamv1alpha1.IPPoolSpec{CIDR: "10.84.0.0/24"})
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = silent.Close() }()
	refusingAddr := closedAddr(t)

	n := newNode(t, "node-unreachable")
	held := harness.RuntimeConf("c-unreach-held", nil)
	heldIP := add(t, n, harness.IPAMNetwork("unreachnet", n.ipamConfig("unreachable")), held).IPs[0].Address.IP.String()
	for name, addr := range map[string]string{"refused": refusingAddr, "silent": silent.Addr().String()} {
		t.Run(name, func(t *testing.T) {
			list := unreachableNetwork(t, n, addr)
			start := time.Now()
			_, err := n.cni.AddNetworkList(context.Background(), list, harness.RuntimeConf("c-unreach-"+name, nil))
			ipamtest.ExpectCNIError(t, err, types.ErrTryAgainLater, "")
			if took := time.Since(start); took > 10*time.Second {
				t.Fatalf("the ADD took %v with a 2s timeout", took)
			}
			ipamtest.ExpectCNIError(t, n.cni.DelNetworkList(context.Background(), list, held), types.ErrTryAgainLater, "")
			claims := env.AddressClaims(t, "unreachable")
			if _, ok := claims[heldIP]; !ok || len(claims) != 1 {
				t.Fatalf("claims after the failed ADD and DEL: %v; want only %s", slices.Collect(maps.Keys(claims)), heldIP)
			}
		})
	}
}

// unreachableNetwork is n's network with a kubeconfig pointing at addr and
// a 2s timeout.
func unreachableNetwork(t *testing.T, n *node, addr string) *libcni.NetworkConfigList {
	t.Helper()
	cfg := *env.Config
	cfg.Host = "https://" + addr
	return networkWithConfig(t, n, &cfg, "unreachable")
}

// networkWithConfig is n's network of pools whose kubeconfig holds cfg,
// with a 2s timeout.
func networkWithConfig(t *testing.T, n *node, cfg *rest.Config, pools ...string) *libcni.NetworkConfigList {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := harness.WriteKubeconfig(cfg, path); err != nil {
		t.Fatal(err)
	}
	ipam := n.ipamConfig(pools...)
	ipam["kubeconfig"], ipam["timeout"] = path, "2s"
	return harness.IPAMNetwork("unreachnet", ipam)
}

// closedAddr returns a loopback address where nothing listens: connections
// are refused.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().String()
}

// refusedADD is an ADD of rt on the network list that must fail with the
// CNI error code and message want.
type refusedADD struct {
	name string
	list *libcni.NetworkConfigList
	rt   *libcni.RuntimeConf
	code uint
	want string
}

// expect runs the ADD on node n, and checks that it fails as it must and
// reserves nothing: the number of claims stays the same.
func (r refusedADD) expect(t *testing.T, n *node) {
	t.Helper()
	before := claimCount(t)
	_, err := n.cni.AddNetworkList(context.Background(), r.list, r.rt)
	ipamtest.ExpectCNIError(t, err, r.code, r.want)
	if after := claimCount(t); after != before {
		t.Fatalf("the failed ADD changed the number of claims from %d to %d", before, after)
	}
}

// claimCount counts every claim in the cluster.
func claimCount(t *testing.T) int {
	t.Helper()
	var list ipamv1alpha1.IPClaimList
	if err := env.Client.List(context.Background(), &list); err != nil {
		t.Fatal(err)
	}
	return len(list.Items)
}
