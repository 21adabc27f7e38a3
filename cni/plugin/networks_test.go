package plugin

import (
	"slices"
	"testing"

	"github.com/containernetworking/cni/pkg/skel"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
	"github.com/ipkeeper/ipkeeper/cni/cnierr"
	"github.com/ipkeeper/ipkeeper/cni/ipamtest"
)

// networksCluster is addCluster with the pool tenant-a, which only
// namespaces labelled tenant=a may use, the namespace red so labelled, and
// the pod red/web.
func networksCluster() *Fake {
	f := addCluster()
	tenant := ipamtest.ReadyPool("tenant-a", ipamv1alpha1.IPPoolSpec{CIDR: "10.5.0.0/24",
		NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"tenant": "a"}}})
	broken := ipamtest.ReadyPool("broken", ipamv1alpha1.IPPoolSpec{CIDR: "10.6.0.0/24",
		NamespaceSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tenant", Operator: "Equals"}}}})
	f.Pools[tenant.Name], f.Pools[broken.Name] = tenant, broken
	f.Namespaces["red"] = objectMeta("", "red", "", nil, map[string]string{"tenant": "a"})
	f.Pods["red/web"] = objectMeta("red", "web", "uid-red", nil, nil)
	return f
}

// TestAddNetworksAndTenancy covers the choices made per network (the
// per-network annotations, runtimeConfig.ips and args.cni.ips, in their
// order) and per namespace (namespaceSelector), and their bad input. The
// container interface c1/eth0 of network "net" holds exactly want after
// the ADD: nothing after a failure.
func TestAddNetworksAndTenancy(t *testing.T) {
	webArgs, redArgs := "K8S_POD_NAMESPACE=default;K8S_POD_NAME=web", "K8S_POD_NAMESPACE=red;K8S_POD_NAME=web"
	runtimeIPs := func(ips ...string) map[string]any { return map[string]any{"runtimeConfig": map[string]any{"ips": ips}} }
	tests := []struct {
		name     string
		pools    []string
		conf     map[string]any
		setup    func(*Fake)
		args     string
		want     []string
		wantCode uint
		wantMsg  string
	}{
		{name: "the pod's pools for this network before its plain ones", pools: []string{"v4"}, args: webArgs,
			setup: annotate(map[string]string{ipamv1alpha1.NetworkPoolsAnnotation("net"): "spare", ipamv1alpha1.AnnotationPools: "v6"}),
			want:  []string{"10.1.0.1/24"}},
		{name: "another network's pools do not apply", pools: []string{"v4"}, args: webArgs,
			setup: annotate(map[string]string{
				ipamv1alpha1.MultusNetworksAnnotation: "macvlan", ipamv1alpha1.NetworkPoolsAnnotation("macvlan"): "v6",
				ipamv1alpha1.AnnotationPools: "spare",
			}),
			want: []string{"10.1.0.1/24"}},
		{name: "the namespace's pools for this network", pools: []string{"v4"}, args: webArgs,
			setup: func(f *Fake) {
				f.Namespaces["default"].Annotations = map[string]string{ipamv1alpha1.NetworkPoolsAnnotation("net"): "v6", ipamv1alpha1.AnnotationPools: "spare"}
			},
			want: []string{"fd00::1/120"}},
		{name: "runtimeConfig.ips before every annotation", pools: []string{"v4", "v6"}, args: webArgs, conf: runtimeIPs("10.0.0.77/24"),
			setup: annotate(map[string]string{ipamv1alpha1.NetworkIPsAnnotation("net"): "10.0.0.88", ipamv1alpha1.AnnotationIPs: "10.0.0.99"}),
			want:  []string{"10.0.0.77/24", "fd00::1/120"}},
		{name: "args.cni.ips", pools: []string{"v4", "v6"}, conf: map[string]any{"args": map[string]any{"cni": map[string]any{"ips": []string{"fd00::66"}}}},
			want: []string{"10.0.0.2/24", "fd00::66/120"}},
		{name: "the pod's addresses for this network before its plain ones", pools: []string{"v4"}, args: webArgs,
			setup: annotate(map[string]string{ipamv1alpha1.NetworkIPsAnnotation("net"): "10.0.0.88", ipamv1alpha1.AnnotationIPs: "10.0.0.99"}),
			want:  []string{"10.0.0.88/24"}},

		{name: "a namespace the pool selects", pools: []string{"tenant-a"}, args: redArgs, want: []string{"10.5.0.1/24"}},
		{name: "a configured pool of another tenant is skipped", pools: []string{"tenant-a", "v4"}, args: webArgs, want: []string{"10.0.0.2/24"}},
		{name: "only pools of another tenant", pools: []string{"tenant-a"}, args: webArgs, wantCode: cnierr.NamespaceNotSelected,
			wantMsg: "pool tenant-a does not select namespace default (namespaceSelector tenant=a): label the namespace or use another pool"},
		{name: "a pool of another tenant named by the pod", pools: []string{"v4"}, args: webArgs,
			setup:    annotate(map[string]string{ipamv1alpha1.AnnotationPools: "tenant-a, v4"}),
			wantCode: cnierr.NamespaceNotSelected, wantMsg: "pool tenant-a does not select namespace default (namespaceSelector tenant=a): label the namespace or use another pool"},
		{name: "a static address in a pool of another tenant", pools: []string{"tenant-a", "v4"}, args: webArgs, conf: runtimeIPs("10.5.0.9"),
			wantCode: cnierr.NamespaceNotSelected,
			wantMsg:  "runtimeConfig.ips asks for 10.5.0.9, in pool tenant-a: pool tenant-a does not select namespace default (namespaceSelector tenant=a): label the namespace or use another pool"},
		{name: "no pod, a pool with a namespaceSelector", pools: []string{"tenant-a"}, wantCode: cnierr.NamespaceNotSelected,
			wantMsg: "pool tenant-a serves only pods of the namespaces its namespaceSelector (tenant=a) selects, and the runtime named no pod (no K8S_POD_NAMESPACE in CNI_ARGS): use a pool without a namespaceSelector"},
		{name: "a stored namespaceSelector that does not parse", pools: []string{"broken"}, args: redArgs, wantCode: cnierr.PoolUnavailable,
			wantMsg: `pool broken has an invalid namespaceSelector: "Equals" is not a valid label selector operator: fix the pool (kubectl edit ippool broken) or use another pool`},

		{name: "a misspelt annotation", pools: []string{"v4"}, args: webArgs, setup: annotate(map[string]string{"ipam.ipkeeper.dev/pool": "spare"}),
			wantCode: cnierr.BadAnnotation,
			wantMsg:  "unknown annotation ipam.ipkeeper.dev/pool on the pod; the keys are ipam.ipkeeper.dev/pools, ipam.ipkeeper.dev/ips, ipam.ipkeeper.dev/pools.<network> and ipam.ipkeeper.dev/ips.<network>"},
		{name: "an annotation naming a network the pod does not have", pools: []string{"v4"}, args: webArgs,
			setup:    annotate(map[string]string{ipamv1alpha1.NetworkPoolsAnnotation("nett"): "spare"}),
			wantCode: cnierr.BadAnnotation,
			wantMsg:  "annotation ipam.ipkeeper.dev/pools.nett names network nett, which the pod does not have (its networks: net): name a network of the pod as its CNI configuration names it (with Multus, the NetworkAttachmentDefinition's name), or remove the annotation"},
		{name: "an annotation naming a pool that does not exist", pools: []string{"v4"}, args: webArgs,
			setup:    annotate(map[string]string{ipamv1alpha1.NetworkPoolsAnnotation("net"): "nope"}),
			wantCode: cnierr.PoolUnavailable, wantMsg: "pool nope does not exist: create it or fix the pool name"},
		{name: "an address of the other family", pools: []string{"v4"}, args: webArgs, conf: runtimeIPs("fd00::5/120"),
			wantCode: cnierr.BadAnnotation,
			wantMsg:  "runtimeConfig.ips asks for IPv6 address fd00::5/120, but the pools chosen by the CNI configuration (v4) have no IPv6 pool: ask for an address of their family, or choose a pool of its family too"},
		{name: "an address outside every pool", pools: []string{"v4", "v6"}, args: webArgs, conf: runtimeIPs("10.9.0.5/24"),
			wantCode: cnierr.BadAnnotation,
			wantMsg:  "address 10.9.0.5 asked for in runtimeConfig.ips lies in none of the pools chosen by the CNI configuration: ask for an address of one of them"},
		{name: "an address with another prefix length", pools: []string{"v4", "v6"}, args: webArgs, conf: runtimeIPs("10.0.0.5/16"),
			wantCode: cnierr.BadAnnotation,
			wantMsg:  "runtimeConfig.ips asks for 10.0.0.5/16, but pool v4 is 10.0.0.0/24: give the pool's prefix length, 10.0.0.5/24, or the bare address"},
		{name: "runtimeConfig.ips that is no list", pools: []string{"v4"}, args: webArgs, conf: map[string]any{"runtimeConfig": map[string]any{"ips": "10.0.0.5"}},
			wantCode: cnierr.BadAnnotation, wantMsg: `runtimeConfig.ips must be a list of addresses such as ["10.32.0.5/24", "fd00::5"]`},
		{name: "an address runtimeConfig.ips asks for that is the gateway", pools: []string{"v4"}, args: webArgs, conf: runtimeIPs("10.0.0.1/24"),
			wantCode: cnierr.BadAnnotation,
			wantMsg:  "address 10.0.0.1 asked for in runtimeConfig.ips is the gateway of 10.0.0.0/24: ask for a usable address of pool v4"},
		{name: "the plain annotation's address held by another interface of the pod", pools: []string{"v4"}, args: webArgs,
			setup: func(f *Fake) {
				annotate(map[string]string{ipamv1alpha1.AnnotationIPs: "10.0.0.77", ipamv1alpha1.MultusNetworksAnnotation: "other"})(f)
				held := addressClaim("v4", "10.0.0.77", thisNode, "web", "c1", "net1")
				held.Spec.Owner.Network, held.Spec.Owner.UID = "other", "uid-web"
				mustCreate(f, held)
			},
			wantCode: cnierr.AddressHeld,
			wantMsg:  "address 10.0.0.77 asked for in annotation ipam.ipkeeper.dev/ips is held by interface net1 of the same pod, on network other: the annotation asks for it on every network of the pod; ask for it on one network only, with ipam.ipkeeper.dev/ips.<network>"},
		{name: "runtimeConfig.ips's address held by another pod", pools: []string{"v4"}, args: webArgs, conf: runtimeIPs("10.0.0.77/24"),
			setup:    func(f *Fake) { mustCreate(f, addressClaim("v4", "10.0.0.77", "node-b", "db-0", "c-db", "eth0")) },
			wantCode: cnierr.AddressHeld,
			wantMsg:  "address 10.0.0.77 asked for in runtimeConfig.ips is held by pod default/db-0 (container c-db on node node-b): ask for another address or release it first"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := networksCluster()
			if tt.setup != nil {
				tt.setup(f)
			}
			p := testPlugin(t, f, tt.pools, tt.conf)
			res, err := p.Add(t.Context(), &skel.CmdArgs{ContainerID: "c1", IfName: "eth0", Args: tt.args})
			ipamtest.ExpectExactCNIError(t, err, tt.wantCode, tt.wantMsg)
			if got := resultAddresses(t, res); !slices.Equal(got, tt.want) {
				t.Fatalf("addresses = %v, want %v", got, tt.want)
			}
			held := addressesOf(f, func(c *ipamv1alpha1.IPClaim) bool {
				return c.Spec.Owner.ContainerID == "c1" && c.Spec.Owner.Interface == "eth0"
			})
			if len(held) != len(tt.want) {
				t.Fatalf("the interface holds %v after the ADD, want %v", held, tt.want)
			}
		})
	}
}
