package poolchoice

import (
	"testing"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
	"github.com/ipkeeper/ipkeeper/cni/ipamtest"
)

func TestCheckAnnotations(t *testing.T) {
	pools := ipamv1alpha1.NetworkPoolsAnnotation
	ips := ipamv1alpha1.NetworkIPsAnnotation
	networks := ipamv1alpha1.MultusNetworksAnnotation
	tests := []struct {
		name        string
		network     string
		annotations map[string]string
		wantErr     string
	}{
		{name: "no annotations", network: "net"},
		{name: "the plain keys and others' annotations", network: "net",
			annotations: map[string]string{ipamv1alpha1.AnnotationPools: "a", ipamv1alpha1.AnnotationIPs: "10.0.0.5", "example.com/pools": "x"}},
		{name: "a misspelt key", network: "net", annotations: map[string]string{"ipam.ipkeeper.dev/pool": "a"},
			wantErr: "unknown annotation ipam.ipkeeper.dev/pool on the pod; the keys are ipam.ipkeeper.dev/pools, ipam.ipkeeper.dev/ips, ipam.ipkeeper.dev/pools.<network> and ipam.ipkeeper.dev/ips.<network>"},
		{name: "a per-network key without a network", network: "net", annotations: map[string]string{"ipam.ipkeeper.dev/ips.": "10.0.0.5"},
			wantErr: "unknown annotation ipam.ipkeeper.dev/ips. on the pod"},
		{name: "a per-network key of another kind", network: "net", annotations: map[string]string{"ipam.ipkeeper.dev/pool.net": "a"},
			wantErr: "unknown annotation ipam.ipkeeper.dev/pool.net on the pod"},

		{name: "single network: its own key", network: "net", annotations: map[string]string{pools("net"): "a", ips("net"): "10.0.0.5"}},
		{name: "single network: a typo", network: "net", annotations: map[string]string{pools("nett"): "a"},
			wantErr: "annotation ipam.ipkeeper.dev/pools.nett names network nett, which the pod does not have (its networks: net): name a network of the pod as its CNI configuration names it (with Multus, the NetworkAttachmentDefinition's name), or remove the annotation"},

		// Multus: ipkeeper on the default network k8s-pod-network and on the
		// secondary networks macvlan (in namespace infra, as net2) and ipvlan.
		{name: "Multus, the default network's call", network: "k8s-pod-network", annotations: map[string]string{
			networks: "infra/macvlan@net2, ipvlan", pools("k8s-pod-network"): "a", pools("macvlan"): "b", ips("ipvlan"): "10.0.0.5",
		}},
		{name: "Multus, a secondary network's call", network: "macvlan", annotations: map[string]string{
			networks: "infra/macvlan@net2, ipvlan", pools("k8s-pod-network"): "a", pools("macvlan"): "b", ips("ipvlan"): "10.0.0.5",
		}},
		{name: "Multus, networks as JSON", network: "macvlan", annotations: map[string]string{
			networks:                 `[{"name": "macvlan", "namespace": "infra", "interface": "net2", "ips": ["10.1.0.5/24"]}, {"name": "ipvlan"}]`,
			pools("k8s-pod-network"): "a", pools("macvlan"): "b", ips("ipvlan"): "10.0.0.5",
		}},
		{name: "Multus, a typo seen by the default network's call", network: "k8s-pod-network", annotations: map[string]string{
			networks: "macvlan", pools("macvln"): "b",
		}, wantErr: "annotation ipam.ipkeeper.dev/pools.macvln names network macvln, which the pod does not have (its networks: k8s-pod-network and macvlan)"},
		{name: "Multus, a secondary network's call cannot tell a typo from the default network", network: "macvlan", annotations: map[string]string{
			networks: "macvlan", pools("macvln"): "b",
		}},
		{name: "Multus, a secondary network's call: two unknown networks", network: "macvlan", annotations: map[string]string{
			networks: "macvlan", pools("k8s-pod-network"): "a", ips("macvln"): "10.0.0.5",
		}, wantErr: "annotations ipam.ipkeeper.dev/pools.k8s-pod-network and ipam.ipkeeper.dev/ips.macvln name networks k8s-pod-network and macvln, which the pod does not have (its networks: macvlan and a default network, which can be only one of them): name a network of the pod as its CNI configuration names it (with Multus, the NetworkAttachmentDefinition's name), or remove the annotations"},
		{name: "Multus, the default network named by the pod", network: "macvlan", annotations: map[string]string{
			networks: "macvlan", ipamv1alpha1.MultusDefaultNetworkAnnotation: "kube-system/calico", pools("k8s-pod-network"): "a",
		}, wantErr: "annotation ipam.ipkeeper.dev/pools.k8s-pod-network names network k8s-pod-network, which the pod does not have (its networks: calico and macvlan)"},
		{name: "Multus annotation that does not parse: nothing refused", network: "macvlan", annotations: map[string]string{
			networks: `[{"name": `, pools("other"): "a", pools("another"): "b",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckAnnotations(tt.network, tt.annotations)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			ipamtest.ExpectError(t, err, ErrBadAnnotation, tt.wantErr)
		})
	}
}
