// Package poolchoice decides which pools a pod takes its addresses from:
// the pod's annotation, else its namespace's, else the CNI configuration;
// per family the pools in that order, skipping those that cannot serve this
// node. It is pure logic over objects the caller has read.
package poolchoice

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/ipkeeper/ipkeeper/api/ipspace"
	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
)

// Names returns the pool names to use and where they came from: the pod's
// ipam.ipkeeper.dev/pools annotation, else the namespace's, else the
// configuration's list.
func Names(podAnnotations, namespaceAnnotations map[string]string, configured []string) ([]string, string, error) {
	for _, source := range []struct {
		name        string
		annotations map[string]string
	}{{"pod", podAnnotations}, {"namespace", namespaceAnnotations}} {
		value, ok := source.annotations[ipamv1alpha1.AnnotationPools]
		if !ok {
			continue
		}
		names := splitList(value)
		if len(names) == 0 {
			return nil, "", newError(ErrBadAnnotation, "the %s annotation %s is empty: list pool names separated by commas, or remove it",
				source.name, ipamv1alpha1.AnnotationPools)
		}
		return names, source.name + " annotation " + ipamv1alpha1.AnnotationPools, nil
	}
	if len(configured) == 0 {
		return nil, "", newError(ErrNoPools, "no pool to allocate from: set ipam.pools in the CNI configuration or annotate the pod or namespace with %s",
			ipamv1alpha1.AnnotationPools)
	}
	return configured, "CNI configuration", nil
}

// RequestedAddresses parses the pod's ipam.ipkeeper.dev/ips annotation: at
// most one address per family.
func RequestedAddresses(podAnnotations map[string]string) ([]netip.Addr, error) {
	value, ok := podAnnotations[ipamv1alpha1.AnnotationIPs]
	if !ok {
		return nil, nil
	}
	var out []netip.Addr
	for _, s := range splitList(value) {
		a, err := ipspace.ParseAddr(s)
		if err != nil {
			return nil, newError(ErrBadAnnotation, "annotation %s: %v", ipamv1alpha1.AnnotationIPs, err)
		}
		for _, prev := range out {
			if prev.Is4() == a.Is4() {
				return nil, newError(ErrBadAnnotation, "annotation %s asks for %s and %s: ask for at most one address per family",
					ipamv1alpha1.AnnotationIPs, prev, a)
			}
		}
		out = append(out, a)
	}
	if len(out) == 0 {
		return nil, newError(ErrBadAnnotation, "annotation %s is empty: list addresses separated by commas, or remove it", ipamv1alpha1.AnnotationIPs)
	}
	return out, nil
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// Family is the pools one family's address may come from, in order.
type Family struct {
	IPv4  bool
	Pools []*ipamv1alpha1.IPPool
	// Requested, when valid, is the exact address the pod asked for; Pools
	// then holds only the pool that contains it.
	Requested netip.Addr
}

// Choose returns, per family the named pools cover, the usable pools in
// order. pools maps each name to its pool (nil when it does not exist). A
// pool that does not exist, or a family whose pools are all unusable, fails
// the whole choice: a dual-stack pod must not silently come up
// single-stack.
func Choose(names []string, pools map[string]*ipamv1alpha1.IPPool, node string, nodeLabels map[string]string) ([]Family, error) {
	var families []Family
	var reasons []error
	unusable := map[bool]bool{}
	for _, name := range names {
		pool := pools[name]
		if pool == nil {
			// Its family is unknown, so skipping it could leave a dual-stack
			// pod with one family and no word of it.
			return nil, newError(ErrPoolMissing, "pool %s does not exist: create it or fix the pool name", name)
		}
		prefix, err := ipspace.ParsePrefix(pool.Spec.CIDR)
		if err != nil {
			return nil, newError(ErrPoolUnavailable, "pool %s has an invalid cidr: %v", name, err)
		}
		v4 := prefix.Addr().Is4()
		if err := Usable(pool, node, nodeLabels); err != nil {
			reasons = append(reasons, err)
			unusable[v4] = true
			continue
		}
		families = addToFamily(families, v4, pool)
	}
	for v4 := range unusable {
		if !hasFamily(families, v4) {
			return nil, firstReason(reasons)
		}
	}
	if len(families) == 0 {
		return nil, firstReason(reasons)
	}
	return families, nil
}

func addToFamily(families []Family, v4 bool, pool *ipamv1alpha1.IPPool) []Family {
	for i := range families {
		if families[i].IPv4 == v4 {
			families[i].Pools = append(families[i].Pools, pool)
			return families
		}
	}
	return append(families, Family{IPv4: v4, Pools: []*ipamv1alpha1.IPPool{pool}})
}

func hasFamily(families []Family, v4 bool) bool {
	for _, f := range families {
		if f.IPv4 == v4 {
			return true
		}
	}
	return false
}

// firstReason returns the first reason with its kind, followed by the
// others, so the message names every pool that was skipped.
func firstReason(reasons []error) error {
	if len(reasons) == 0 {
		return newError(ErrPoolUnavailable, "no pool to allocate from")
	}
	var first *Error
	if errors.As(reasons[0], &first) && len(reasons) > 1 {
		msgs := make([]string, len(reasons))
		for i, r := range reasons {
			msgs[i] = r.Error()
		}
		return newError(first.Kind, "%s", strings.Join(msgs, "; "))
	}
	return reasons[0]
}

// Usable says why node cannot allocate from pool, or returns nil.
func Usable(pool *ipamv1alpha1.IPPool, node string, nodeLabels map[string]string) error {
	switch {
	case pool.DeletionTimestamp != nil:
		return newError(ErrPoolUnavailable, "pool %s is being deleted: use another pool", pool.Name)
	case pool.Spec.Disabled:
		return newError(ErrPoolUnavailable, "pool %s is disabled: enable it or use another pool", pool.Name)
	}
	if ready := meta.FindStatusCondition(pool.Status.Conditions, ipamv1alpha1.PoolReady); ready == nil || ready.Status != metav1.ConditionTrue {
		return newError(ErrPoolUnavailable, "pool %s is not Ready (%s): see kubectl describe ippool %s", pool.Name, readiness(ready), pool.Name)
	}
	if pool.Spec.NodeSelector == nil {
		return nil
	}
	selector, err := metav1.LabelSelectorAsSelector(pool.Spec.NodeSelector)
	if err != nil {
		return newError(ErrPoolUnavailable, "pool %s has an invalid nodeSelector: %v", pool.Name, err)
	}
	if !selector.Matches(labels.Set(nodeLabels)) {
		return newError(ErrNodeNotSelected, "pool %s does not select node %s (nodeSelector %s): label the node or use another pool",
			pool.Name, node, selector)
	}
	return nil
}

func readiness(c *metav1.Condition) string {
	if c == nil {
		return "the operator has not reported on it yet"
	}
	return fmt.Sprintf("%s: %s", c.Reason, c.Message)
}

// Pin narrows the family of addr, an address the pod asked for, to the pool
// that holds it. source names where the pools came from, for the message.
func Pin(families []Family, addr netip.Addr, source string) ([]Family, error) {
	for i, f := range families {
		if f.IPv4 != addr.Is4() {
			continue
		}
		for _, pool := range f.Pools {
			if prefix, err := ipspace.ParsePrefix(pool.Spec.CIDR); err == nil && prefix.Contains(addr) {
				families[i].Pools = []*ipamv1alpha1.IPPool{pool}
				families[i].Requested = addr
				return families, nil
			}
		}
	}
	return nil, newError(ErrBadAnnotation, "address %s asked for in annotation %s lies in none of the pools chosen by the %s: ask for an address of one of them",
		addr, ipamv1alpha1.AnnotationIPs, source)
}
