package controllers

import (
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
	"github.com/ipkeeper/ipkeeper/test/harness"
)

func TestCheckClaim(t *testing.T) {
	pool := &ipamv1alpha1.IPPool{ObjectMeta: metav1.ObjectMeta{Name: "pods"}, Spec: ipamv1alpha1.IPPoolSpec{
		CIDR: "10.32.0.0/16", BlockSize: ptr.To[int32](24), Gateway: "10.32.0.1", Exclude: []string{"10.32.9.0/24"},
	}}
	owner := harness.RuntimeOwner("c1")
	address := func(a string) *ipamv1alpha1.IPClaim { return harness.AddressClaim("pods", "node-a", a, 24, owner) }
	older := address("10.32.1.5")
	older.CreationTimestamp = metav1.NewTime(time.Unix(1000, 0))
	younger := address("10.32.1.6")
	younger.CreationTimestamp = metav1.NewTime(time.Unix(2000, 0))
	siblings := []ipamv1alpha1.IPClaim{*older, *younger}
	tenantPool := pool.DeepCopy()
	tenantPool.Spec.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"tenant": "a"}}
	podClaim := func(a, namespace string) *ipamv1alpha1.IPClaim {
		pod := harness.Pod(namespace, "web-0", nil)
		return harness.AddressClaim("pods", "node-a", a, 24, harness.PodOwner(pod, "c9"))
	}
	tests := []struct {
		name      string
		claim     *ipamv1alpha1.IPClaim
		pool      *ipamv1alpha1.IPPool
		siblings  []ipamv1alpha1.IPClaim
		namespace map[string]string
		reason    string
		message   string
	}{
		{name: "valid address", claim: address("10.32.1.5"), pool: pool},
		{name: "valid block", claim: harness.BlockClaim("pods", "node-a", "10.32.2.0/24"), pool: pool},
		{name: "pool missing", claim: address("10.32.1.5"), reason: ipamv1alpha1.ReasonPoolMissing,
			message: "Pool pods does not exist: create it, or release the claim once nothing uses address 10.32.1.5."},
		{name: "address outside the pool", claim: address("10.33.0.5"), pool: pool, reason: ipamv1alpha1.ReasonOutsidePool,
			message: "Address 10.33.0.5 lies outside pool pods (10.32.0.0/16): release the claim once no pod uses it, and claim an address of the pool."},
		{name: "address of the other family", claim: address("fd00::5"), pool: pool, reason: ipamv1alpha1.ReasonOutsidePool},
		{name: "the gateway", claim: address("10.32.0.1"), pool: pool, reason: ipamv1alpha1.ReasonUnusable,
			message: "Address 10.32.0.1 is the gateway of 10.32.0.0/16, which pool pods never hands out: release the claim once no pod uses it, or change the pool."},
		{name: "excluded", claim: address("10.32.9.9"), pool: pool, reason: ipamv1alpha1.ReasonUnusable},
		{name: "block outside the pool", claim: harness.BlockClaim("pods", "node-a", "10.40.0.0/24"), pool: pool, reason: ipamv1alpha1.ReasonOutsidePool,
			message: "Block 10.40.0.0/24 lies outside pool pods (10.32.0.0/16): release the claim once no address inside it is claimed."},
		{name: "block of the wrong size", claim: harness.BlockClaim("pods", "node-a", "10.32.4.0/26"), pool: pool, reason: ipamv1alpha1.ReasonMisaligned,
			message: "Block 10.32.4.0/26 is not one of pool pods's (block 10.32.4.0/26 must have the pool's block size /24): they are /24 and start on a multiple of their size; release the claim once no address inside it is claimed."},
		{name: "the older claim of an interface", claim: older, pool: pool, siblings: siblings},
		{name: "the younger claim of an interface", claim: younger, pool: pool, siblings: siblings, reason: ipamv1alpha1.ReasonDuplicate,
			message: "Interface eth0 of container c1 already holds 10.32.1.5 from pool pods (claim 10.32.1.5): an interface gets one address per pool; release the claim once no pod uses it."},
		{name: "a pod of a namespace the pool selects", claim: podClaim("10.32.1.9", "tenant-a"), pool: tenantPool,
			namespace: map[string]string{"tenant": "a"}},
		{name: "a pod of a namespace the pool does not select", claim: podClaim("10.32.1.9", "tenant-b"), pool: tenantPool,
			namespace: map[string]string{"tenant": "b"}, reason: ipamv1alpha1.ReasonNamespaceNotSelected,
			message: "Pool pods does not select namespace tenant-b (namespaceSelector tenant=a): release the claim once no pod uses it, or label the namespace."},
		{name: "a pod whose namespace is gone", claim: podClaim("10.32.1.9", "gone"), pool: tenantPool},
		{name: "a node label of another node", claim: withLabel(address("10.32.1.7"), ipamv1alpha1.LabelNode, "node-b"), pool: pool,
			reason:  ipamv1alpha1.ReasonLabels,
			message: `Label ipam.ipkeeper.dev/node is "node-b" but the spec makes it "node-a": nodes list claims by it, and ipkeeper labels never change; release the claim once no pod uses it, and claim again.`},
		{name: "a block label of another block", claim: withLabel(address("10.32.1.7"), ipamv1alpha1.LabelBlock, "10.32.2.0-24"), pool: pool,
			reason: ipamv1alpha1.ReasonLabels},
		{name: "a block label left out", claim: withoutLabel(address("10.32.1.7"), ipamv1alpha1.LabelBlock), pool: pool},
		{name: "a Block claim labelled with itself", claim: withLabel(harness.BlockClaim("pods", "node-a", "10.32.2.0/24"), ipamv1alpha1.LabelBlock, "10.32.2.0-24"), pool: pool},
		{name: "a pool whose spec cannot be laid out judges nothing", claim: address("10.99.0.1"),
			pool: &ipamv1alpha1.IPPool{ObjectMeta: metav1.ObjectMeta{Name: "pods"}, Spec: ipamv1alpha1.IPPoolSpec{CIDR: "10.32.0.1/16"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := checkClaim(tt.claim, tt.pool, tt.siblings, tt.namespace)
			switch {
			case tt.reason == "" && p != nil:
				t.Fatalf("checkClaim = %+v, want the claim valid", *p)
			case tt.reason != "" && (p == nil || p.reason != tt.reason):
				t.Fatalf("checkClaim = %+v, want reason %s", p, tt.reason)
			case tt.message != "" && p.message != tt.message:
				t.Fatalf("message %q\nwant    %q", p.message, tt.message)
			}
		})
	}
}

// TestClaimOfMissingPoolIsMarkedUntilThePoolComes stores a claim of a pool
// that does not exist: it is marked Invalid, announced and counted, and
// cleared once the pool is created.
func TestClaimOfMissingPoolIsMarkedUntilThePoolComes(t *testing.T) {
	t.Parallel()
	before := harness.MetricValue(t, metricsAddr, fmt.Sprintf("ipkeeper_claims_invalid_total{reason=%q}", ipamv1alpha1.ReasonPoolMissing))
	claim := env.CreateClaim(t, harness.AddressClaim("late-pool", "", "10.108.0.5", 24, harness.RuntimeOwner("c-late")))
	harness.Eventually(t, operatorTimeout, func() error {
		return expectClaimCondition(claim.Name, ipamv1alpha1.ClaimInvalid, metav1.ConditionTrue, ipamv1alpha1.ReasonPoolMissing, "late-pool")
	})
	harness.Eventually(t, operatorTimeout, func() error { return expectEvent(claim.Name, eventInvalid, corev1.EventTypeWarning) })
	if after := harness.MetricValue(t, metricsAddr, fmt.Sprintf("ipkeeper_claims_invalid_total{reason=%q}", ipamv1alpha1.ReasonPoolMissing)); after < before+1 {
		t.Errorf("ipkeeper_claims_invalid_total{reason=PoolMissing} went from %v to %v; want an increase", before, after)
	}

	env.CreatePool(t, "late-pool", ipamv1alpha1.IPPoolSpec{CIDR: "10.108.0.0/24"})
	harness.Eventually(t, operatorTimeout, func() error {
		return expectClaimCondition(claim.Name, ipamv1alpha1.ClaimInvalid, metav1.ConditionFalse, ipamv1alpha1.ReasonValid)
	})
}

func withLabel(c *ipamv1alpha1.IPClaim, key, value string) *ipamv1alpha1.IPClaim {
	c.Labels[key] = value
	return c
}

func withoutLabel(c *ipamv1alpha1.IPClaim, key string) *ipamv1alpha1.IPClaim {
	delete(c.Labels, key)
	return c
}
