package poolchoice

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
	"github.com/ipkeeper/ipkeeper/cni/ipamtest"
)

func TestNames(t *testing.T) {
	pools := map[string]string{ipamv1alpha1.AnnotationPools: "blue-v4, blue-v6"}
	forNet := func(key, value string) map[string]string { return map[string]string{key: value} }
	both := func(perNetwork, plain string) map[string]string {
		return map[string]string{ipamv1alpha1.NetworkPoolsAnnotation("net"): perNetwork, ipamv1alpha1.AnnotationPools: plain}
	}
	tests := []struct {
		name       string
		pod, ns    map[string]string
		configured []string
		want       []string
		source     string
		wantKind   error
		wantErr    string
	}{
		{name: "pod wins", pod: pools, ns: map[string]string{ipamv1alpha1.AnnotationPools: "red"}, configured: []string{"default"},
			want: []string{"blue-v4", "blue-v6"}, source: "pod annotation"},
		{name: "namespace next", ns: pools, configured: []string{"default"}, want: []string{"blue-v4", "blue-v6"}, source: "namespace annotation"},
		{name: "configuration last", configured: []string{"default"}, want: []string{"default"}, source: "CNI configuration"},
		{name: "empty annotation", pod: map[string]string{ipamv1alpha1.AnnotationPools: " , "}, wantKind: ErrBadAnnotation,
			wantErr: "the pod annotation ipam.ipkeeper.dev/pools is empty"},
		{name: "nothing at all", wantKind: ErrNoPools, wantErr: "no pool to allocate from: set ipam.pools"},

		{name: "the pod's per-network annotation before its plain one", pod: both("red", "blue"), ns: both("ns-red", "ns-blue"),
			want: []string{"red"}, source: "pod annotation ipam.ipkeeper.dev/pools.net"},
		{name: "the pod's plain annotation before the namespace's per-network one",
			pod: forNet(ipamv1alpha1.AnnotationPools, "blue"), ns: both("ns-red", "ns-blue"),
			want: []string{"blue"}, source: "pod annotation ipam.ipkeeper.dev/pools"},
		{name: "the namespace's per-network annotation before its plain one", ns: both("ns-red", "ns-blue"), configured: []string{"default"},
			want: []string{"ns-red"}, source: "namespace annotation ipam.ipkeeper.dev/pools.net"},
		{name: "another network's annotation does not apply", pod: forNet(ipamv1alpha1.NetworkPoolsAnnotation("other"), "red"),
			configured: []string{"default"}, want: []string{"default"}, source: "CNI configuration"},
		{name: "empty per-network annotation", ns: forNet(ipamv1alpha1.NetworkPoolsAnnotation("net"), ""), configured: []string{"default"},
			wantKind: ErrBadAnnotation,
			wantErr:  "the namespace annotation ipam.ipkeeper.dev/pools.net is empty: list pool names separated by commas, or remove it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Names("net", tt.pod, tt.ns, tt.configured)
			if tt.wantErr != "" {
				ipamtest.ExpectError(t, err, tt.wantKind, tt.wantErr)
				return
			}
			if err != nil || !slices.Equal(got.Names, tt.want) || !strings.HasPrefix(got.Source, tt.source) ||
				got.Configured() != (tt.source == "CNI configuration") {
				t.Fatalf("Names = %+v, %v; want %v from %q", got, err, tt.want, tt.source)
			}
		})
	}
}

func TestRequestedAddresses(t *testing.T) {
	tests := []struct {
		value   string
		want    string
		wantErr string
	}{
		{value: "10.0.0.5, fd00::5", want: "10.0.0.5 fd00::5"},
		{value: "10.0.0.5/24,fd00::5/64", want: "10.0.0.5/24 fd00::5/64"},
		{value: "10.0.0.5,10.0.0.6", wantErr: "annotation ipam.ipkeeper.dev/ips asks for 10.0.0.5 and 10.0.0.6: ask for at most one address per family"},
		{value: "10.0.0.500", wantErr: `"10.0.0.500" is not an IPv4 or IPv6 address`},
		{value: "10.0.0.5/33", wantErr: `annotation ipam.ipkeeper.dev/ips: "10.0.0.5/33" is not an address such as 10.32.0.5 or 10.32.0.5/24`},
		{value: "10.0.0.5/", wantErr: `"10.0.0.5/" is not an address such as 10.32.0.5 or 10.32.0.5/24`},
		{value: "", wantErr: "is empty"},
	}
	for _, tt := range tests {
		got, err := RequestedAddresses("net", nil, "", map[string]string{ipamv1alpha1.AnnotationIPs: tt.value})
		if tt.wantErr != "" {
			ipamtest.ExpectError(t, err, ErrBadAnnotation, tt.wantErr)
			continue
		}
		if err != nil || staticsText(got) != tt.want || got.Source != "annotation ipam.ipkeeper.dev/ips" || !got.EveryNetwork {
			t.Errorf("%q: got %+v, %v; want %s", tt.value, got, err, tt.want)
		}
	}
	if got, err := RequestedAddresses("net", nil, "", nil); got.Addrs != nil || err != nil {
		t.Errorf("no annotation: got %v, %v", got, err)
	}
}

// TestRequestedAddressesPrecedence: the runtime's ips, then the pod's
// annotation for the network, then its plain one; the first wins whole.
func TestRequestedAddressesPrecedence(t *testing.T) {
	annotations := map[string]string{
		ipamv1alpha1.NetworkIPsAnnotation("net"): "10.0.0.6, fd00::6",
		ipamv1alpha1.AnnotationIPs:               "10.0.0.7",
	}
	tests := []struct {
		name          string
		network       string
		runtime       []string
		runtimeSource string
		annotations   map[string]string
		want, source  string
		everyNetwork  bool
		wantErr       string
	}{
		{name: "runtimeConfig.ips wins whole", network: "net", runtime: []string{"10.0.0.5/24"}, runtimeSource: "runtimeConfig.ips",
			annotations: annotations, want: "10.0.0.5/24", source: "runtimeConfig.ips"},
		{name: "args.cni.ips", network: "net", runtime: []string{"10.0.0.5"}, runtimeSource: "args.cni.ips",
			annotations: annotations, want: "10.0.0.5", source: "args.cni.ips"},
		{name: "the network's annotation", network: "net", annotations: annotations, want: "10.0.0.6 fd00::6",
			source: "annotation ipam.ipkeeper.dev/ips.net"},
		{name: "the plain annotation on another network", network: "other", annotations: annotations, want: "10.0.0.7",
			source: "annotation ipam.ipkeeper.dev/ips", everyNetwork: true},
		{name: "two of a family in the runtime's", network: "net", runtime: []string{"10.0.0.5", "10.0.0.6/24"}, runtimeSource: "runtimeConfig.ips",
			wantErr: "runtimeConfig.ips asks for 10.0.0.5 and 10.0.0.6/24: ask for at most one address per family"},
		{name: "a malformed entry in the runtime's", network: "net", runtime: []string{"ten"}, runtimeSource: "args.cni.ips",
			wantErr: `args.cni.ips: "ten" is not an IPv4 or IPv6 address`},
		{name: "an empty network annotation", network: "net", annotations: map[string]string{ipamv1alpha1.NetworkIPsAnnotation("net"): " "},
			wantErr: "annotation ipam.ipkeeper.dev/ips.net is empty: list addresses separated by commas, or remove it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := RequestedAddresses(tt.network, tt.runtime, tt.runtimeSource, tt.annotations)
			if tt.wantErr != "" {
				ipamtest.ExpectError(t, err, ErrBadAnnotation, tt.wantErr)
				return
			}
			if err != nil || staticsText(got) != tt.want || got.Source != tt.source || got.EveryNetwork != tt.everyNetwork {
				t.Fatalf("got %+v, %v; want %s from %s", got, err, tt.want, tt.source)
			}
		})
	}
}

func staticsText(s Statics) string {
	var out []string
	for _, a := range s.Addrs {
		out = append(out, a.String())
	}
	return strings.Join(out, " ")
}

func readyPool(name, cidr string) *ipamv1alpha1.IPPool {
	return ipamtest.ReadyPool(name, ipamv1alpha1.IPPoolSpec{CIDR: cidr})
}

func TestChoose(t *testing.T) {
	v4, v6, spare := readyPool("v4", "10.0.0.0/16"), readyPool("v6", "fd00::/64"), readyPool("spare", "10.1.0.0/16")
	disabled := readyPool("off", "10.2.0.0/16")
	disabled.Spec.Disabled = true
	rack := readyPool("rack1", "10.3.0.0/16")
	rack.Spec.NodeSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"rack": "1"}}
	notReady := readyPool("new", "10.4.0.0/16")
	notReady.Status.Conditions = nil
	tenantA := readyPool("tenant-a", "10.5.0.0/16")
	tenantA.Spec.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"tenant": "a"}}
	everyone := readyPool("everyone", "10.6.0.0/16")
	everyone.Spec.NamespaceSelector = &metav1.LabelSelector{}
	broken := readyPool("broken", "10.7.0.0/16")
	broken.Spec.NamespaceSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tenant", Operator: "Equals"}}}
	all := map[string]*ipamv1alpha1.IPPool{}
	for _, p := range []*ipamv1alpha1.IPPool{v4, v6, spare, disabled, rack, notReady, tenantA, everyone, broken} {
		all[p.Name] = p
	}
	blue := Placement{Node: "node-a", Namespace: "blue", NamespaceLabels: map[string]string{"tenant": "b"}}
	red := Placement{Node: "node-a", Namespace: "red", NamespaceLabels: map[string]string{"tenant": "a"}}
	tests := []struct {
		name      string
		names     []string
		annotated bool
		where     *Placement
		labels    map[string]string
		want      string
		wantKind  error
		wantErr   string
	}{
		{name: "dual-stack", names: []string{"v4", "v6"}, want: "v4 | v6"},
		{name: "fallback pool of a family", names: []string{"v4", "v6", "spare"}, want: "v4 spare | v6"},
		{name: "disabled pool skipped", names: []string{"off", "v4"}, want: "v4"},
		{name: "node selected", names: []string{"rack1"}, labels: map[string]string{"rack": "1"}, want: "rack1"},
		{name: "node not selected", names: []string{"rack1"}, labels: map[string]string{"rack": "2"},
			wantKind: ErrNodeNotSelected, wantErr: "pool rack1 does not select node node-a (nodeSelector rack=1)"},
		{name: "missing pool", names: []string{"nope"}, wantKind: ErrPoolMissing, wantErr: "pool nope does not exist"},
		{name: "disabled only", names: []string{"off"}, wantKind: ErrPoolUnavailable, wantErr: "pool off is disabled"},
		{name: "not ready", names: []string{"new"}, wantKind: ErrPoolUnavailable, wantErr: "pool new is not Ready (the operator has not reported on it yet)"},
		{name: "one family lost fails all", names: []string{"off", "v6"}, wantKind: ErrPoolUnavailable, wantErr: "pool off is disabled"},
		{name: "every reason told, with the first one's kind", names: []string{"rack1", "off"}, labels: map[string]string{"rack": "2"},
			wantKind: ErrNodeNotSelected, wantErr: "label the node or use another pool; pool off is disabled: enable it or use another pool"},
		{name: "a missing pool fails all", names: []string{"v4", "v6-typo"}, wantKind: ErrPoolMissing, wantErr: "pool v6-typo does not exist"},

		{name: "namespace selected", names: []string{"tenant-a"}, where: &red, want: "tenant-a"},
		{name: "configured pool of another tenant skipped", names: []string{"tenant-a", "spare"}, where: &blue, want: "spare"},
		{name: "configured pools all of another tenant", names: []string{"tenant-a"}, where: &blue, wantKind: ErrNamespaceNotSelected,
			wantErr: "pool tenant-a does not select namespace blue (namespaceSelector tenant=a): label the namespace or use another pool"},
		{name: "a pool of another tenant named by an annotation", names: []string{"tenant-a", "spare"}, annotated: true, where: &blue,
			wantKind: ErrNamespaceNotSelected, wantErr: "pool tenant-a does not select namespace blue (namespaceSelector tenant=a)"},
		{name: "no pod, a pool with a namespaceSelector", names: []string{"tenant-a"}, wantKind: ErrNamespaceNotSelected,
			wantErr: "pool tenant-a serves only pods of the namespaces its namespaceSelector (tenant=a) selects, and the runtime named no pod (no K8S_POD_NAMESPACE in CNI_ARGS): use a pool without a namespaceSelector"},
		{name: "no pod, an empty namespaceSelector", names: []string{"everyone"}, want: "everyone"},
		{name: "a namespaceSelector that does not parse", names: []string{"broken"}, where: &red, wantKind: ErrPoolUnavailable,
			wantErr: `pool broken has an invalid namespaceSelector: "Equals" is not a valid label selector operator: fix the pool (kubectl edit ippool broken) or use another pool`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			where := Placement{Node: "node-a"}
			if tt.where != nil {
				where = *tt.where
			}
			where.NodeLabels = tt.labels
			families, err := Choose(Choice{Names: tt.names, Source: map[bool]string{true: "pod annotation ipam.ipkeeper.dev/pools", false: configSource}[tt.annotated]}, all, where)
			if tt.wantErr != "" {
				ipamtest.ExpectError(t, err, tt.wantKind, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var groups []string
			for _, f := range families {
				var names []string
				for _, p := range f.Pools {
					names = append(names, p.Name)
				}
				groups = append(groups, strings.Join(names, " "))
			}
			if got := strings.Join(groups, " | "); got != tt.want {
				t.Fatalf("families = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestPin(t *testing.T) {
	v4, spare, v6 := readyPool("v4", "10.0.0.0/16"), readyPool("spare", "10.1.0.0/16"), readyPool("v6", "fd00::/64")
	families := []Family{{IPv4: true, Pools: []*ipamv1alpha1.IPPool{v4, spare}}, {Pools: []*ipamv1alpha1.IPPool{v6}}}
	pinned, err := Pin(families, Statics{Addrs: []Static{{Addr: netip.MustParseAddr("10.1.2.3"), Bits: -1}}}, "CNI configuration")
	if err != nil {
		t.Fatal(err)
	}
	if len(pinned[0].Pools) != 1 || pinned[0].Pools[0] != spare || pinned[0].Requested.String() != "10.1.2.3" || len(pinned[1].Pools) != 1 {
		t.Fatalf("pinned = %+v; want the IPv4 family narrowed to spare, the IPv6 family untouched", pinned)
	}
	_, err = Pin(families, Statics{Addrs: []Static{{Addr: netip.MustParseAddr("192.168.0.1"), Bits: -1}}, Source: "annotation ipam.ipkeeper.dev/ips"}, "pod annotation")
	ipamtest.ExpectError(t, err, ErrBadAnnotation, "lies in none of the pools chosen by the pod annotation")
}

// TestPinChecks: what an exact address is checked against, whatever its
// source.
func TestPinChecks(t *testing.T) {
	tenantB := readyPool("tenant-b", "10.5.0.0/24")
	tenantB.Spec.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"tenant": "b"}}
	pools := map[string]*ipamv1alpha1.IPPool{"v4": readyPool("v4", "10.0.0.0/24"), "tenant-b": tenantB}
	blue := Placement{Node: "node-a", Namespace: "blue", NamespaceLabels: map[string]string{"tenant": "a"}}
	tests := []struct {
		name        string
		runtime     []string
		annotations map[string]string
		want        string
		advice      bool
		wantKind    error
		wantErr     string
	}{
		{name: "the pool's prefix length", runtime: []string{"10.0.0.5/24"}, want: "v4 10.0.0.5"},
		{name: "another prefix length", runtime: []string{"10.0.0.5/16"}, wantKind: ErrBadAnnotation,
			wantErr: "runtimeConfig.ips asks for 10.0.0.5/16, but pool v4 is 10.0.0.0/24: give the pool's prefix length, 10.0.0.5/24, or the bare address"},
		{name: "the other family", runtime: []string{"fd00::5"}, wantKind: ErrBadAnnotation,
			wantErr: "runtimeConfig.ips asks for IPv6 address fd00::5, but the pools chosen by the CNI configuration (v4) have no IPv6 pool: ask for an address of their family, or choose a pool of its family too"},
		{name: "outside every pool", runtime: []string{"10.9.0.5"}, wantKind: ErrBadAnnotation,
			wantErr: "address 10.9.0.5 asked for in runtimeConfig.ips lies in none of the pools chosen by the CNI configuration: ask for an address of one of them"},
		{name: "in a pool of another tenant", runtime: []string{"10.5.0.9"}, wantKind: ErrNamespaceNotSelected,
			wantErr: "runtimeConfig.ips asks for 10.5.0.9, in pool tenant-b: pool tenant-b does not select namespace blue (namespaceSelector tenant=b): label the namespace or use another pool"},
		{name: "the plain annotation: advice for another interface of the pod", annotations: map[string]string{ipamv1alpha1.AnnotationIPs: "10.0.0.5"},
			want: "v4 10.0.0.5", advice: true},
		{name: "the plain annotation on a pod of several networks", annotations: map[string]string{
			ipamv1alpha1.AnnotationIPs: "10.9.0.5", ipamv1alpha1.MultusNetworksAnnotation: "macvlan"}, wantKind: ErrBadAnnotation,
			wantErr: "address 10.9.0.5 asked for in annotation ipam.ipkeeper.dev/ips lies in none of the pools chosen by the CNI configuration for network net: the annotation asks for it on every network of the pod; ask for it on one network only, with ipam.ipkeeper.dev/ips.<network>"},
		{name: "the network's annotation", annotations: map[string]string{ipamv1alpha1.NetworkIPsAnnotation("net"): "10.0.0.5"}, want: "v4 10.0.0.5"},
		{name: "the network's annotation, outside", annotations: map[string]string{ipamv1alpha1.NetworkIPsAnnotation("net"): "10.9.0.5"},
			wantKind: ErrBadAnnotation, wantErr: "address 10.9.0.5 asked for in annotation ipam.ipkeeper.dev/ips.net lies in none of the pools chosen by the CNI configuration: ask"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			statics, err := RequestedAddresses("net", tt.runtime, "runtimeConfig.ips", tt.annotations)
			if err != nil {
				t.Fatal(err)
			}
			families, err := Choose(Choice{Names: []string{"tenant-b", "v4"}, Source: configSource}, pools, blue)
			if err != nil {
				t.Fatal(err)
			}
			families, err = Pin(families, statics, "CNI configuration")
			if tt.wantErr != "" {
				ipamtest.ExpectError(t, err, tt.wantKind, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			f := families[0]
			if got := f.Pools[0].Name + " " + f.Requested.String(); got != tt.want || (f.SamePodAdvice != "") != tt.advice {
				t.Fatalf("pinned %s with advice %q; want %s, advice %v", got, f.SamePodAdvice, tt.want, tt.advice)
			}
		})
	}
}
