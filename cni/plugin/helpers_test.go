package plugin

import (
	"encoding/json"
	"net/netip"
	"sort"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"

	"github.com/ipkeeper/ipkeeper/api/ipspace"
	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
	"github.com/ipkeeper/ipkeeper/cni/netconf"
)

// thisNode is the node every test plugin runs on.
const thisNode = "node-a"

// objectMeta returns the metadata of an object the plugin reads.
func objectMeta(namespace, name, uid string, annotations, labels map[string]string) *metav1.PartialObjectMetadata {
	return &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{
		Namespace: namespace, Name: name, UID: k8stypes.UID(uid), Annotations: annotations, Labels: labels,
	}}
}

// testPlugin returns a plugin on fake for the network "net" on thisNode,
// allocating from pools; extra adds keys to the network configuration.
func testPlugin(t *testing.T, fake *Fake, pools []string, extra map[string]any) *Plugin {
	t.Helper()
	conf := map[string]any{
		"cniVersion": "1.1.0", "name": "net",
		"ipam": map[string]any{"type": "ipkeeper", "pools": pools, "nodeName": thisNode, "dataDir": t.TempDir()},
	}
	for k, v := range extra {
		conf[k] = v
	}
	data, err := json.Marshal(conf)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := netconf.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	return &Plugin{Config: cfg, Node: thisNode, Cluster: fake}
}

// addressClaim is the claim of addr in pool for a container interface of
// the pod default/<pod> on node, on the network "net".
func addressClaim(pool, addr, node, pod, containerID, ifName string) *ipamv1alpha1.IPClaim {
	a := netip.MustParseAddr(addr)
	return &ipamv1alpha1.IPClaim{
		ObjectMeta: metav1.ObjectMeta{Name: ipspace.AddressClaimName(a)},
		Spec: ipamv1alpha1.IPClaimSpec{
			Pool: pool, Type: ipamv1alpha1.ClaimTypeAddress, Node: node, Address: a.String(),
			Owner: &ipamv1alpha1.ClaimOwner{
				Namespace: "default", Name: pod, Pod: "default/" + pod,
				ContainerID: containerID, Interface: ifName, Network: "net",
			},
		},
	}
}

// addressesOf returns the addresses of the fake's Address claims that
// match, sorted.
func addressesOf(fake *Fake, match func(*ipamv1alpha1.IPClaim) bool) []string {
	var out []string
	for _, c := range fake.List("test", func(c *ipamv1alpha1.IPClaim) bool {
		return c.Spec.Type == ipamv1alpha1.ClaimTypeAddress && match(c)
	}) {
		out = append(out, c.Spec.Address)
	}
	sort.Strings(out)
	return out
}

// all matches every claim.
func all(*ipamv1alpha1.IPClaim) bool { return true }
