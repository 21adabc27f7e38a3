package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"slices"
	"testing"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
	"github.com/ipkeeper/ipkeeper/cni/cnierr"
	"github.com/ipkeeper/ipkeeper/cni/ipamtest"
)

// addCluster is a cluster with pools of every kind, the pod default/web,
// the namespace blue whose annotation names the pool spare, and this node
// in rack 2.
func addCluster() *Fake {
	f := NewFake()
	for _, p := range []*ipamv1alpha1.IPPool{
		ipamtest.ReadyPool("v4", ipamv1alpha1.IPPoolSpec{CIDR: "10.0.0.0/24", Gateway: "10.0.0.1"}),
		ipamtest.ReadyPool("v6", ipamv1alpha1.IPPoolSpec{CIDR: "fd00::/120"}),
		ipamtest.ReadyPool("spare", ipamv1alpha1.IPPoolSpec{CIDR: "10.1.0.0/24"}),
		ipamtest.ReadyPool("full", ipamv1alpha1.IPPoolSpec{CIDR: "10.2.0.0/30"}),
		ipamtest.ReadyPool("full6", ipamv1alpha1.IPPoolSpec{CIDR: "fd02::/126"}),
		ipamtest.ReadyPool("rack1", ipamv1alpha1.IPPoolSpec{CIDR: "10.3.0.0/24",
			NodeSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"rack": "1"}}}),
	} {
		f.Pools[p.Name] = p
	}
	f.Namespaces["default"] = objectMeta("", "default", "", nil, nil)
	f.Namespaces["blue"] = objectMeta("", "blue", "", map[string]string{ipamv1alpha1.AnnotationPools: "spare"}, nil)
	f.Nodes[thisNode] = objectMeta("", thisNode, "", nil, map[string]string{"rack": "2"})
	f.Pods["default/web"] = objectMeta("default", "web", "uid-web", nil, nil)
	return f
}

// fill makes other pods hold every address of the pools full and full6.
func fill(f *Fake) {
	for pool, addrs := range map[string][]string{"full": {"10.2.0.1", "10.2.0.2"}, "full6": {"fd02::1", "fd02::2", "fd02::3"}} {
		for _, addr := range addrs {
			mustCreate(f, addressClaim(pool, addr, "node-b", "other", "c-"+addr, "eth0"))
		}
	}
}

func mustCreate(f *Fake, claim *ipamv1alpha1.IPClaim) {
	if err := f.Create(context.Background(), claim); err != nil {
		panic(err)
	}
}

// annotate sets the pod default/web's annotations.
func annotate(annotations map[string]string) func(*Fake) {
	return func(f *Fake) { f.Pods["default/web"].Annotations = annotations }
}

func TestAdd(t *testing.T) {
	webArgs := "K8S_POD_NAMESPACE=default;K8S_POD_NAME=web"
	tests := []struct {
		name  string
		pools []string
		setup func(*Fake)
		args  string
		// want is the result's addresses; they are all the container
		// holds after the ADD. After a failure it holds none.
		want     []string
		wantCode uint
		wantMsg  string
	}{
		{name: "fresh dual-stack allocation", pools: []string{"v4", "v6"}, args: webArgs,
			want: []string{"10.0.0.2/24", "fd00::1/120"}},
		{name: "a runtime that is not Kubernetes", pools: []string{"v4"},
			want: []string{"10.0.0.2/24"}},
		{name: "an earlier ADD of the interface: its claim, nothing new", pools: []string{"v4"}, args: webArgs,
			setup: func(f *Fake) { mustCreate(f, addressClaim("v4", "10.0.0.9", thisNode, "web", "c1", "eth0")) },
			want:  []string{"10.0.0.9/24"}},
		{name: "an earlier ADD in a pool this one would not choose", pools: []string{"v4"}, args: webArgs,
			setup: func(f *Fake) { mustCreate(f, addressClaim("spare", "10.1.0.9", thisNode, "web", "c1", "eth0")) },
			want:  []string{"10.1.0.9/24"}},
		{name: "the pod's annotation chooses the pools", pools: []string{"v4"}, args: webArgs,
			setup: annotate(map[string]string{ipamv1alpha1.AnnotationPools: "spare"}),
			want:  []string{"10.1.0.1/24"}},
		{name: "the namespace's annotation when the pod has none", pools: []string{"v4"},
			setup: func(f *Fake) { f.Pods["blue/web"] = objectMeta("blue", "web", "uid-blue", nil, nil) },
			args:  "K8S_POD_NAMESPACE=blue;K8S_POD_NAME=web",
			want:  []string{"10.1.0.1/24"}},
		{name: "the pod's annotation before the namespace's", pools: []string{"spare"},
			setup: func(f *Fake) {
				f.Pods["blue/web"] = objectMeta("blue", "web", "uid-blue", map[string]string{ipamv1alpha1.AnnotationPools: "v6"}, nil)
			},
			args: "K8S_POD_NAMESPACE=blue;K8S_POD_NAME=web",
			want: []string{"fd00::1/120"}},
		{name: "an exact address", pools: []string{"v4", "v6"}, args: webArgs,
			setup: annotate(map[string]string{ipamv1alpha1.AnnotationIPs: "10.0.0.77"}),
			want:  []string{"10.0.0.77/24", "fd00::1/120"}},
		{name: "an exact address another pod holds", pools: []string{"v4"}, args: webArgs,
			setup: func(f *Fake) {
				annotate(map[string]string{ipamv1alpha1.AnnotationIPs: "10.0.0.77"})(f)
				mustCreate(f, addressClaim("v4", "10.0.0.77", "node-b", "db-0", "c-db", "eth0"))
			},
			wantCode: cnierr.AddressHeld,
			wantMsg:  "address 10.0.0.77 asked for in annotation ipam.ipkeeper.dev/ips is held by pod default/db-0 (container c-db on node node-b): ask for another address or release it first"},
		{name: "an exact address that is the gateway", pools: []string{"v4"}, args: webArgs,
			setup:    annotate(map[string]string{ipamv1alpha1.AnnotationIPs: "10.0.0.1"}),
			wantCode: cnierr.BadAnnotation,
			wantMsg:  "address 10.0.0.1 asked for in annotation ipam.ipkeeper.dev/ips is the gateway of 10.0.0.0/24: ask for a usable address of pool v4"},
		{name: "an exact address in none of the chosen pools", pools: []string{"v4"}, args: webArgs,
			setup:    annotate(map[string]string{ipamv1alpha1.AnnotationIPs: "10.9.0.1"}),
			wantCode: cnierr.BadAnnotation,
			wantMsg:  "address 10.9.0.1 asked for in annotation ipam.ipkeeper.dev/ips lies in none of the pools chosen by the CNI configuration: ask for an address of one of them"},
		{name: "a pool that does not exist", pools: []string{"v4", "nope"}, args: webArgs,
			wantCode: cnierr.PoolUnavailable, wantMsg: "pool nope does not exist: create it or fix the pool name"},
		{name: "a pool that does not select the node", pools: []string{"rack1"}, args: webArgs,
			wantCode: cnierr.NodeNotSelected,
			wantMsg:  "pool rack1 does not select node node-a (nodeSelector rack=1): label the node or use another pool"},
		{name: "an exhausted pool: the next of the family", pools: []string{"full", "spare", "v6"}, args: webArgs,
			setup: fill, want: []string{"10.1.0.1/24", "fd00::1/120"}},
		{name: "every pool of the family exhausted", pools: []string{"full"}, args: webArgs,
			setup: fill, wantCode: cnierr.PoolExhausted, wantMsg: "pool full is exhausted (2/2 in use): add a pool or free addresses"},
		{name: "dual-stack: one family exhausted, the other's claim released", pools: []string{"v4", "full6"}, args: webArgs,
			setup: fill, wantCode: cnierr.PoolExhausted, wantMsg: "pool full6 is exhausted (3/3 in use): add a pool or free addresses"},
		{name: "dual-stack: one family's claim refused, the other's released", pools: []string{"v4", "v6"}, args: webArgs,
			setup: func(f *Fake) {
				f.FailCreate = func(c *ipamv1alpha1.IPClaim) error {
					if c.Spec.Pool == "v6" && c.Spec.Type == ipamv1alpha1.ClaimTypeAddress {
						return apierrors.NewForbidden(schema.GroupResource{Group: ipamv1alpha1.GroupVersion.Group, Resource: "ipclaims"}, c.Name, errors.New("not this node's"))
					}
					return nil
				}
			},
			wantCode: cnierr.Denied,
			wantMsg:  `reserve addresses: ipclaims.ipam.ipkeeper.dev "fd00-0000-0000-0000-0000-0000-0000-0001" is forbidden: not this node's`},
		{name: "no pool anywhere", args: webArgs, wantCode: types.ErrInvalidNetworkConfig,
			wantMsg: "no pool to allocate from: set ipam.pools in the CNI configuration or annotate the pod or namespace with ipam.ipkeeper.dev/pools"},
		{name: "a pod the API server does not know yet", pools: []string{"v4"},
			args: "K8S_POD_NAMESPACE=default;K8S_POD_NAME=ghost", wantCode: types.ErrTryAgainLater,
			wantMsg: "pod default/ghost does not exist on the API server"},
		{name: "an API server that cannot answer", pools: []string{"v4"}, args: webArgs,
			setup:    func(f *Fake) { f.Errs["PodMeta"] = apierrors.NewServiceUnavailable("etcd is down") },
			wantCode: types.ErrTryAgainLater, wantMsg: "read the pod, its namespace and the pools: etcd is down"},
		{name: "an API server that does not answer in time", pools: []string{"v4"}, args: webArgs,
			setup:    func(f *Fake) { f.Errs["NodeClaims"] = apierrors.NewTimeoutError("the list took too long", 1) },
			wantCode: types.ErrTryAgainLater, wantMsg: "reserve addresses: Timeout: the list took too long"},
		{name: "bad CNI_ARGS", pools: []string{"v4"}, args: "K8S_POD_NAME=web",
			wantCode: types.ErrInvalidEnvironmentVariables,
			wantMsg:  `CNI_ARGS names K8S_POD_NAMESPACE "" and K8S_POD_NAME "web": give both or neither`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := addCluster()
			if tt.setup != nil {
				tt.setup(f)
			}
			p := testPlugin(t, f, tt.pools, nil)
			res, err := p.Add(t.Context(), &skel.CmdArgs{ContainerID: "c1", IfName: "eth0", Args: tt.args})
			ipamtest.ExpectExactCNIError(t, err, tt.wantCode, tt.wantMsg)
			if got := resultAddresses(t, res); !slices.Equal(got, tt.want) {
				t.Fatalf("addresses = %v, want %v", got, tt.want)
			}
			var want []string
			for _, w := range tt.want {
				want = append(want, netip.MustParsePrefix(w).Addr().String())
			}
			slices.Sort(want)
			held := addressesOf(f, func(c *ipamv1alpha1.IPClaim) bool { return c.Spec.Owner.ContainerID == "c1" })
			if !slices.Equal(held, want) {
				t.Fatalf("the container holds %v after the ADD, want %v", held, want)
			}
		})
	}
}

// TestAddRepeated: a runtime may repeat an ADD; the second returns what the
// first reserved and creates nothing.
func TestAddRepeated(t *testing.T) {
	f := addCluster()
	p := testPlugin(t, f, []string{"v4", "v6"}, nil)
	args := &skel.CmdArgs{ContainerID: "c1", IfName: "eth0", Args: "K8S_POD_NAMESPACE=default;K8S_POD_NAME=web"}
	first, err := p.Add(t.Context(), args)
	if err != nil {
		t.Fatal(err)
	}
	creates := f.Calls["Create"]
	second, err := p.Add(t.Context(), args)
	if err != nil {
		t.Fatal(err)
	}
	expectJSON(t, second, string(mustJSON(t, first)))
	if f.Calls["Create"] != creates {
		t.Fatalf("the repeated ADD created %d claims", f.Calls["Create"]-creates)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// resultAddresses returns the addresses of an ADD's result, none when there
// is no result.
func resultAddresses(t *testing.T, res types.Result) []string {
	t.Helper()
	if res == nil {
		return nil
	}
	result, err := current.NewResultFromResult(res)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ip := range result.IPs {
		got = append(got, ip.Address.String())
	}
	return got
}
