package cni

import (
	"strings"
	"testing"

	"github.com/containernetworking/cni/libcni"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
	"github.com/ipkeeper/ipkeeper/cni/cnierr"
	"github.com/ipkeeper/ipkeeper/test/harness"
)

// capableNetwork is network name whose one plugin is ipkeeper, called
// directly, declaring the ips capability as Multus's delegates do, so that
// libcni passes the runtime's ips in runtimeConfig.
func capableNetwork(name string, ipam map[string]any) *libcni.NetworkConfigList {
	return harness.NetworkList(name, map[string]any{"type": "ipkeeper", "capabilities": map[string]bool{"ips": true}, "ipam": ipam})
}

// onNetwork is what a runtime passes for the sandbox containerID of pod on
// its interface ifName, asking for ips through the ips capability.
func onNetwork(containerID string, pod *corev1.Pod, ifName string, ips ...string) *libcni.RuntimeConf {
	rt := harness.RuntimeConf(containerID, pod)
	rt.IfName = ifName
	if len(ips) > 0 {
		rt.CapabilityArgs = map[string]any{"ips": ips}
	}
	return rt
}

// TestNetworksOfAPod gives one pod two ipkeeper networks, as Multus does:
// the pool of each network follows the pod's annotation for it, a static
// address comes through runtimeConfig.ips or args.cni.ips (before any
// annotation), and a pool restricted to some namespaces serves only those.
func TestNetworksOfAPod(t *testing.T) {
	env.CreateReadyPool(t, "nets-one", ipamv1alpha1.IPPoolSpec{CIDR: "10.89.0.0/24"})
	env.CreateReadyPool(t, "nets-two", ipamv1alpha1.IPPoolSpec{CIDR: "10.90.0.0/24"})
	env.CreateReadyPool(t, "nets-red", ipamv1alpha1.IPPoolSpec{CIDR: "10.91.0.0/24",
		NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: "nets-red"}}})
	n := newNode(t, "node-nets")
	first := capableNetwork("nets-first", n.ipamConfig("nets-one"))
	second := capableNetwork("nets-second", n.ipamConfig("nets-one"))
	web := env.CreatePod(t, "nets", "web", map[string]string{
		ipamv1alpha1.MultusNetworksAnnotation: "nets-second", ipamv1alpha1.NetworkPoolsAnnotation("nets-second"): "nets-two",
	})
	if ip := resultIP(t, add(t, n, first, onNetwork("c-nets-web", web, "eth0"))); !strings.HasPrefix(ip, "10.89.0.") {
		t.Errorf("the first network got %s, want an address of nets-one", ip)
	}
	if ip := resultIP(t, add(t, n, second, onNetwork("c-nets-web", web, "net1"))); !strings.HasPrefix(ip, "10.90.0.") {
		t.Errorf("the second network got %s, want an address of nets-two, as the pod's annotation for it says", ip)
	}

	static := env.CreatePod(t, "nets", "static", map[string]string{
		ipamv1alpha1.MultusNetworksAnnotation: "nets-second", ipamv1alpha1.NetworkPoolsAnnotation("nets-second"): "nets-two",
		ipamv1alpha1.NetworkIPsAnnotation("nets-second"): "10.90.0.60",
	})
	if ip := resultIP(t, add(t, n, second, onNetwork("c-nets-static", static, "net1", "10.90.0.50/24"))); ip != "10.90.0.50" {
		t.Errorf("runtimeConfig.ips asked for 10.90.0.50/24, the pod got %s", ip)
	}
	withArgs := harness.NetworkList("nets-second", map[string]any{"type": "ipkeeper", "ipam": n.ipamConfig("nets-one"),
		"args": map[string]any{"cni": map[string]any{"ips": []string{"10.90.0.70"}}}})
	if ip := resultIP(t, add(t, n, withArgs, onNetwork("c-nets-args", static, "net1"))); ip != "10.90.0.70" {
		t.Errorf("args.cni.ips asked for 10.90.0.70 over the pod's annotation for the network, the pod got %s", ip)
	}

	red := env.CreatePod(t, "nets-red", "web", nil)
	if ip := resultIP(t, add(t, n, harness.IPAMNetwork("nets-tenant", n.ipamConfig("nets-red", "nets-one")), onNetwork("c-nets-red", red, "eth0"))); !strings.HasPrefix(ip, "10.91.0.") {
		t.Errorf("a pod of namespace nets-red got %s, want an address of nets-red", ip)
	}
}

// TestBadNetworkInputLeavesNoClaim: per-network annotations, static
// addresses and namespace restrictions that cannot be honoured fail the
// ADD with their code and message, and reserve nothing.
func TestBadNetworkInputLeavesNoClaim(t *testing.T) {
	env.CreateReadyPool(t, "badnets-main", ipamv1alpha1.IPPoolSpec{CIDR: "10.92.0.0/24"})
	env.CreateReadyPool(t, "badnets-red", ipamv1alpha1.IPPoolSpec{CIDR: "10.93.0.0/24",
		NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: "badnets-red"}}})
	n := newNode(t, "node-badnets")
	list := capableNetwork("badnets", n.ipamConfig("badnets-main"))
	pod := func(name string, annotations map[string]string) *corev1.Pod {
		return env.CreatePod(t, "badnets", name, annotations)
	}
	tests := []refusedADD{
		{"an annotation naming a network the pod does not have", list,
			onNetwork("c-badnets-typo", pod("typo", map[string]string{ipamv1alpha1.NetworkPoolsAnnotation("badnet"): "badnets-main"}), "eth0"),
			cnierr.BadAnnotation, "annotation ipam.ipkeeper.dev/pools.badnet names network badnet, which the pod does not have (its networks: badnets)"},
		{"a misspelt annotation", list, onNetwork("c-badnets-key", pod("key", map[string]string{"ipam.ipkeeper.dev/ip": "10.92.0.5"}), "eth0"),
			cnierr.BadAnnotation, "unknown annotation ipam.ipkeeper.dev/ip on the pod"},
		{"an annotation naming a pool that does not exist", list,
			onNetwork("c-badnets-pool", pod("pool", map[string]string{ipamv1alpha1.NetworkPoolsAnnotation("badnets"): "badnets-ghost"}), "eth0"),
			cnierr.PoolUnavailable, "pool badnets-ghost does not exist"},
		{"an address of the other family", list, onNetwork("c-badnets-v6", pod("v6", nil), "eth0", "fd00::5/64"),
			cnierr.BadAnnotation, "runtimeConfig.ips asks for IPv6 address fd00::5/64, but the pools chosen by the CNI configuration (badnets-main) have no IPv6 pool"},
		{"an address outside every pool", list, onNetwork("c-badnets-out", pod("out", nil), "eth0", "10.99.9.9/24"),
			cnierr.BadAnnotation, "address 10.99.9.9 asked for in runtimeConfig.ips lies in none of the pools chosen by the CNI configuration"},
		{"an address with another prefix length", list, onNetwork("c-badnets-len", pod("len", nil), "eth0", "10.92.0.5/16"),
			cnierr.BadAnnotation, "runtimeConfig.ips asks for 10.92.0.5/16, but pool badnets-main is 10.92.0.0/24"},
		{"a pool of another namespace", harness.IPAMNetwork("badnets", n.ipamConfig("badnets-red")), onNetwork("c-badnets-ns", pod("ns", nil), "eth0"),
			cnierr.NamespaceNotSelected, "pool badnets-red does not select namespace badnets (namespaceSelector kubernetes.io/metadata.name=badnets-red)"},
		{"a static address in a pool of another namespace", capableNetwork("badnets", n.ipamConfig("badnets-red", "badnets-main")),
			onNetwork("c-badnets-nsip", pod("nsip", nil), "eth0", "10.93.0.5"),
			cnierr.NamespaceNotSelected, "runtimeConfig.ips asks for 10.93.0.5, in pool badnets-red: pool badnets-red does not select namespace badnets"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.expect(t, n)
		})
	}
}
