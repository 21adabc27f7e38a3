package controllers

import (
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
)

func TestUpdateStatusCountsOnlyUsableAddresses(t *testing.T) {
	p := poolAt("p", "10.0.0.0/29", 1)
	p.Spec.Gateway = "10.0.0.1"
	p.Spec.BlockSize = ptr.To[int32](30)
	claims := []ipamv1alpha1.IPClaim{
		{Spec: ipamv1alpha1.IPClaimSpec{Type: ipamv1alpha1.ClaimTypeAddress, Address: "10.0.0.2"}},
		{Spec: ipamv1alpha1.IPClaimSpec{Type: ipamv1alpha1.ClaimTypeAddress, Address: "10.0.0.6"}},
		// The gateway, the broadcast address, another pool's address and
		// another family are not usable here and must not count.
		{Spec: ipamv1alpha1.IPClaimSpec{Type: ipamv1alpha1.ClaimTypeAddress, Address: "10.0.0.1"}},
		{Spec: ipamv1alpha1.IPClaimSpec{Type: ipamv1alpha1.ClaimTypeAddress, Address: "10.0.0.7"}},
		{Spec: ipamv1alpha1.IPClaimSpec{Type: ipamv1alpha1.ClaimTypeAddress, Address: "10.0.1.2"}},
		{Spec: ipamv1alpha1.IPClaimSpec{Type: ipamv1alpha1.ClaimTypeAddress, Address: "fd00::2"}},
		{Spec: ipamv1alpha1.IPClaimSpec{Type: ipamv1alpha1.ClaimTypeBlock, CIDR: "10.0.0.4/30"}},
	}
	counts, ok := updateStatus(&p, claims, nil)
	if !ok {
		t.Fatal("updateStatus reported an invalid spec")
	}
	st := p.Status
	// .2 to .6 are usable: five addresses.
	if st.Capacity != "5" || st.Allocated != 2 || st.Free != "3" || st.Blocks != 1 || st.BlockCapacity != "2" {
		t.Errorf("status = %+v; want capacity 5, allocated 2, free 3, blocks 1, blockCapacity 2", st)
	}
	if counts.free.Float64() != 3 {
		t.Errorf("counts.free = %v; want 3", counts.free)
	}
}

func TestUpdateStatusShowsNamespaces(t *testing.T) {
	p := poolAt("p", "10.0.0.0/24", 1)
	updateStatus(&p, nil, nil)
	if p.Status.Namespaces != ipamv1alpha1.AllNamespaces {
		t.Errorf("namespaces without a selector = %q, want %q", p.Status.Namespaces, ipamv1alpha1.AllNamespaces)
	}
	p.Spec.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"tenant": "a"}}
	updateStatus(&p, nil, nil)
	if p.Status.Namespaces != "tenant=a" {
		t.Errorf("namespaces = %q, want tenant=a", p.Status.Namespaces)
	}
}

func TestReadyConditionPriority(t *testing.T) {
	older := poolAt("older", "10.0.0.0/8", 0)
	deleting := metav1.Now()
	tests := []struct {
		name   string
		mutate func(*ipamv1alpha1.IPPool)
		winner *ipamv1alpha1.IPPool
		status metav1.ConditionStatus
		reason string
	}{
		{name: "allocatable", mutate: func(*ipamv1alpha1.IPPool) {},
			status: metav1.ConditionTrue, reason: ipamv1alpha1.ReasonAllocatable},
		{name: "disabled", mutate: func(p *ipamv1alpha1.IPPool) { p.Spec.Disabled = true },
			status: metav1.ConditionFalse, reason: ipamv1alpha1.ReasonDisabled},
		{name: "overlap wins over disabled", mutate: func(p *ipamv1alpha1.IPPool) { p.Spec.Disabled = true }, winner: &older,
			status: metav1.ConditionFalse, reason: ipamv1alpha1.ReasonOverlapsOlderPool},
		{name: "invalid spec wins over overlap", mutate: func(p *ipamv1alpha1.IPPool) { p.Spec.Gateway = "bad" }, winner: &older,
			status: metav1.ConditionFalse, reason: ipamv1alpha1.ReasonInvalidSpec},
		{name: "terminating wins over everything", mutate: func(p *ipamv1alpha1.IPPool) {
			p.Spec.Gateway, p.Spec.Disabled, p.DeletionTimestamp = "bad", true, &deleting
		}, winner: &older, status: metav1.ConditionFalse, reason: ipamv1alpha1.ReasonTerminating},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := poolAt("p", "10.1.0.0/24", 1)
			tt.mutate(&p)
			updateStatus(&p, nil, tt.winner)
			c := meta.FindStatusCondition(p.Status.Conditions, ipamv1alpha1.PoolReady)
			if c == nil || c.Status != tt.status || c.Reason != tt.reason {
				t.Fatalf("Ready = %+v; want %s/%s", c, tt.status, tt.reason)
			}
		})
	}
}
