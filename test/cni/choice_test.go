package cni

import (
	"testing"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
	"github.com/ipkeeper/ipkeeper/test/harness"
)

// TestPoolChoiceFollowsAnnotations checks the order of pool choice: the
// pod's annotation, then its namespace's, then the configuration; and that
// a pod gets the exact address it asks for.
func TestPoolChoiceFollowsAnnotations(t *testing.T) {
	env.CreateReadyPool(t, "choice-config", ipamv1alpha1.IPPoolSpec{CIDR: "10.86.0.0/24"})
	env.CreateReadyPool(t, "choice-namespace", ipamv1alpha1.IPPoolSpec{CIDR: "10.87.0.0/24"})
	env.CreateReadyPool(t, "choice-pod", ipamv1alpha1.IPPoolSpec{CIDR: "10.88.0.0/24"})
	n := newNode(t, "node-choice")
	list := harness.IPAMNetwork("choicenet", n.ipamConfig("choice-config"))
	byNamespace := map[string]string{ipamv1alpha1.AnnotationPools: "choice-namespace"}

	tests := []struct {
		name, namespace string
		namespaceAnn    map[string]string
		podAnn          map[string]string
		want            string
	}{
		{name: "plain", namespace: "choice-plain", want: "10.86.0."},
		{name: "namespace", namespace: "choice-annotated", namespaceAnn: byNamespace, want: "10.87.0."},
		{name: "pod", namespace: "choice-annotated", podAnn: map[string]string{ipamv1alpha1.AnnotationPools: "choice-pod"}, want: "10.88.0."},
		{name: "exact", namespace: "choice-annotated", podAnn: map[string]string{ipamv1alpha1.AnnotationIPs: "10.87.0.77"}, want: "10.87.0.77"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env.CreateNamespace(t, tt.namespace, tt.namespaceAnn)
			pod := env.CreatePod(t, tt.namespace, tt.name, tt.podAnn)
			ip := add(t, n, list, harness.RuntimeConf("c-choice-"+tt.name, pod)).IPs[0].Address.IP.String()
			if len(ip) < len(tt.want) || ip[:len(tt.want)] != tt.want {
				t.Fatalf("pod %s got %s, want %s*", tt.name, ip, tt.want)
			}
		})
	}
}
