package harness

import (
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/ipkeeper/ipkeeper/api/ipspace"
	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
)

// AddressClaim returns pool's Address claim of address for owner, named and
// labelled as the plugin writes it. node, when set, is the node that made
// it; blockBits, when set, is the prefix length of the node's blocks, which
// names the block label. A test that needs a claim the plugin would never
// write (another name, a malformed address) changes the result.
func AddressClaim(pool, node, address string, blockBits int, owner *ipamv1alpha1.ClaimOwner) *ipamv1alpha1.IPClaim {
	claim := &ipamv1alpha1.IPClaim{
		ObjectMeta: metav1.ObjectMeta{Name: address, Labels: ipamv1alpha1.ClaimLabels(pool, node, "")},
		Spec: ipamv1alpha1.IPClaimSpec{
			Pool: pool, Type: ipamv1alpha1.ClaimTypeAddress, Node: node, Address: address, Owner: owner,
		},
	}
	if addr, err := netip.ParseAddr(address); err == nil {
		claim.Name = ipspace.AddressClaimName(addr)
		if blockBits > 0 {
			claim.Labels[ipamv1alpha1.LabelBlock] = ipspace.BlockClaimName(netip.PrefixFrom(addr, blockBits).Masked())
		}
	}
	return claim
}

// BlockClaim returns node's Block claim of cidr in pool, named and labelled
// as the plugin writes it.
func BlockClaim(pool, node, cidr string) *ipamv1alpha1.IPClaim {
	claim := &ipamv1alpha1.IPClaim{
		ObjectMeta: metav1.ObjectMeta{Name: cidr, Labels: ipamv1alpha1.ClaimLabels(pool, node, "")},
		Spec:       ipamv1alpha1.IPClaimSpec{Pool: pool, Type: ipamv1alpha1.ClaimTypeBlock, Node: node, CIDR: cidr},
	}
	if prefix, err := netip.ParsePrefix(cidr); err == nil {
		claim.Name = ipspace.BlockClaimName(prefix)
	}
	return claim
}

// RuntimeOwner is the owner a runtime outside Kubernetes records: a
// container's eth0, and no pod.
func RuntimeOwner(containerID string) *ipamv1alpha1.ClaimOwner {
	return &ipamv1alpha1.ClaimOwner{ContainerID: containerID, Interface: "eth0"}
}

// PodOwner is the owner the plugin records for eth0 of pod's sandbox
// containerID on the network k8s-pod-network.
func PodOwner(pod *corev1.Pod, containerID string) *ipamv1alpha1.ClaimOwner {
	return &ipamv1alpha1.ClaimOwner{
		Namespace: pod.Namespace, Name: pod.Name, Pod: pod.Namespace + "/" + pod.Name, UID: string(pod.UID),
		ContainerID: containerID, Interface: "eth0", Network: "k8s-pod-network",
	}
}

// WebPod returns pod default/web-0 with a fixed UID, as claims name their
// owner: the pod of tests that judge claims and create no pod.
func WebPod() *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web-0", UID: "6f1c1f5e-0000-4000-8000-000000000001"}}
}

// FullPool returns a valid pool of cidr that sets every optional field, the
// base of tests that change one: /24 blocks, an excluded address, prefix and
// range, a gateway and two routes, all of them in 10.32.0.0/22, which cidr
// must hold.
func FullPool(name, cidr string) *ipamv1alpha1.IPPool {
	return &ipamv1alpha1.IPPool{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: ipamv1alpha1.IPPoolSpec{
			CIDR:      cidr,
			BlockSize: ptr.To[int32](24),
			Exclude:   []string{"10.32.0.10", "10.32.1.0/28", "10.32.2.1-10.32.2.9"},
			Gateway:   "10.32.0.1",
			Routes:    []ipamv1alpha1.Route{{Dst: "0.0.0.0/0"}, {Dst: "192.168.0.0/16", GW: "10.32.0.2"}},
		},
	}
}
