package controllers

import (
	"fmt"
	"net/netip"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/ipkeeper/ipkeeper/api/ipspace"
	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
)

// claimProblem is a rule of its pool that a claim breaks: the reason of its
// Invalid condition and a message that says what to do.
type claimProblem struct {
	reason, message string
}

// checkClaim says which rule of its pool claim breaks, or returns nil. pool
// is nil when the pool does not exist; siblings are the Address claims of
// the claim's container; namespace holds the labels of the pod's namespace
// (nil when it is not known). It judges claims after the fact, whoever made
// them: the plugin's claims skip the webhook, and people's may have been
// stored while it was down. A pool whose spec cannot be laid out is
// reported on the pool, not on each of its claims.
func checkClaim(claim *ipamv1alpha1.IPClaim, pool *ipamv1alpha1.IPPool, siblings []ipamv1alpha1.IPClaim, namespace map[string]string) *claimProblem {
	if pool == nil {
		return &claimProblem{ipamv1alpha1.ReasonPoolMissing, fmt.Sprintf(
			"Pool %s does not exist: create it, or release the claim once nothing uses %s.", claim.Spec.Pool, claimTarget(claim))}
	}
	layout, err := pool.Spec.Layout()
	if err != nil {
		return nil
	}
	switch claim.Spec.Type {
	case ipamv1alpha1.ClaimTypeAddress:
		if p := checkAddress(claim, pool, layout); p != nil {
			return p
		}
		if p := checkNamespace(claim, pool, namespace); p != nil {
			return p
		}
		if p := checkDuplicate(claim, siblings); p != nil {
			return p
		}
	case ipamv1alpha1.ClaimTypeBlock:
		if p := checkBlock(claim, pool, layout); p != nil {
			return p
		}
	}
	return checkLabels(claim, layout)
}

// checkLabels compares the ipkeeper labels a claim carries with those its
// spec implies (ipamv1alpha1.ClaimLabels): nodes list claims by them, so a
// wrong one hides a claim from its node or shows it to another. A label
// left out is not judged, as at admission. The claim's address or block is
// valid here.
func checkLabels(claim *ipamv1alpha1.IPClaim, layout ipspace.Layout) *claimProblem {
	block := claim.Name // a Block claim's block is itself
	if a, err := netip.ParseAddr(claim.Spec.Address); err == nil {
		block = ipspace.BlockClaimName(layout.BlockOf(a))
	}
	want := ipamv1alpha1.ClaimLabels(claim.Spec.Pool, claim.Spec.Node, block)
	advice := releaseAdvice
	if claim.Spec.Type == ipamv1alpha1.ClaimTypeBlock {
		advice = releaseBlockAdvice
	}
	for _, key := range []string{ipamv1alpha1.LabelPool, ipamv1alpha1.LabelNode, ipamv1alpha1.LabelBlock} {
		if got, ok := claim.Labels[key]; ok && got != want[key] {
			return &claimProblem{ipamv1alpha1.ReasonLabels, fmt.Sprintf(
				"Label %s is %q but the spec makes it %q: nodes list claims by it, and ipkeeper labels never change; %s, and claim again.",
				key, got, want[key], advice)}
		}
	}
	return nil
}

// releaseAdvice and releaseBlockAdvice say what to do with an invalid
// Address claim, and Block claim.
const (
	releaseAdvice      = "release the claim once no pod uses it"
	releaseBlockAdvice = "release the claim once no address inside it is claimed"
)

func checkAddress(claim *ipamv1alpha1.IPClaim, pool *ipamv1alpha1.IPPool, layout ipspace.Layout) *claimProblem {
	a, err := netip.ParseAddr(claim.Spec.Address)
	if err != nil || !layout.Prefix().Contains(a) {
		return &claimProblem{ipamv1alpha1.ReasonOutsidePool, fmt.Sprintf(
			"Address %s lies outside pool %s (%s): %s, and claim an address of the pool.", claim.Spec.Address, pool.Name, pool.Spec.CIDR, releaseAdvice)}
	}
	if why := layout.WhyUnusable(a); why != "" {
		return &claimProblem{ipamv1alpha1.ReasonUnusable, fmt.Sprintf(
			"Address %s is %s, which pool %s never hands out: %s, or change the pool.", a, why, pool.Name, releaseAdvice)}
	}
	return nil
}

func checkBlock(claim *ipamv1alpha1.IPClaim, pool *ipamv1alpha1.IPPool, layout ipspace.Layout) *claimProblem {
	p, err := netip.ParsePrefix(claim.Spec.CIDR)
	if err != nil || !layout.Prefix().Contains(p.Addr()) || p.Addr().BitLen() != layout.Prefix().Addr().BitLen() {
		return &claimProblem{ipamv1alpha1.ReasonOutsidePool, fmt.Sprintf(
			"Block %s lies outside pool %s (%s): %s.", claim.Spec.CIDR, pool.Name, pool.Spec.CIDR, releaseBlockAdvice)}
	}
	if err := layout.CheckBlock(p); err != nil {
		return &claimProblem{ipamv1alpha1.ReasonMisaligned, fmt.Sprintf(
			"Block %s is not one of pool %s's (%v): they are /%d and start on a multiple of their size; %s.", p, pool.Name, err, layout.BlockBits, releaseBlockAdvice)}
	}
	return nil
}

// checkNamespace says whether the pool may serve the namespace of the
// claim's pod. A claim without a pod namespace, or whose namespace is not
// known, and a pool whose selector does not parse (reported by the plugin
// and refused at admission) judge nothing.
func checkNamespace(claim *ipamv1alpha1.IPClaim, pool *ipamv1alpha1.IPPool, namespace map[string]string) *claimProblem {
	owner := claim.Spec.Owner
	selector, err := pool.Spec.NamespaceSelection()
	if owner == nil || owner.Namespace == "" || namespace == nil || selector == nil || err != nil || selector.Matches(labels.Set(namespace)) {
		return nil
	}
	return &claimProblem{ipamv1alpha1.ReasonNamespaceNotSelected, fmt.Sprintf(
		"Pool %s does not select namespace %s (namespaceSelector %s): %s, or label the namespace.", pool.Name, owner.Namespace, selector, releaseAdvice)}
}

// checkDuplicate finds an older Address claim of the same pool for the same
// container interface: the older one is the interface's address, the
// younger is the duplicate.
func checkDuplicate(claim *ipamv1alpha1.IPClaim, siblings []ipamv1alpha1.IPClaim) *claimProblem {
	owner := claim.Spec.Owner
	if owner == nil {
		return nil
	}
	for i := range siblings {
		other := &siblings[i]
		o := other.Spec.Owner
		if other.Name == claim.Name || other.Spec.Type != ipamv1alpha1.ClaimTypeAddress || other.Spec.Pool != claim.Spec.Pool ||
			o == nil || o.ContainerID != owner.ContainerID || o.Interface != owner.Interface || !olderClaim(other, claim) {
			continue
		}
		return &claimProblem{ipamv1alpha1.ReasonDuplicate, fmt.Sprintf(
			"Interface %s of container %s already holds %s from pool %s (claim %s): an interface gets one address per pool; %s.",
			owner.Interface, owner.ContainerID, other.Spec.Address, claim.Spec.Pool, other.Name, releaseAdvice)}
	}
	return nil
}

// olderClaim reports whether a was created before b, or in the same second
// with a name that sorts first.
func olderClaim(a, b *ipamv1alpha1.IPClaim) bool {
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
	return a.Name < b.Name
}
