// Package poolchoice decides which pools a pod's interface on one network
// takes its addresses from, and which exact addresses it asks for. Pools:
// the pod's annotation for the network, its plain annotation, the same two
// on its namespace, else the CNI configuration; per family the pools in that
// order, skipping those that cannot serve this node or namespace. It is
// pure logic over objects the caller has read.
package poolchoice

import (
	"errors"
	"net/netip"
	"strings"

	"github.com/ipkeeper/ipkeeper/api/ipspace"
	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
	"github.com/ipkeeper/ipkeeper/cni/ipamerr"
)

// configSource is the Source of pools from the CNI configuration.
const configSource = "CNI configuration"

// Configured reports whether the names come from the CNI configuration,
// not from an annotation naming them: a pool the pod's namespace may not
// use is then passed over, not an error.
func (c Choice) Configured() bool { return c.Source == configSource }

// Choice is the pool names one network of a pod takes addresses from.
type Choice struct {
	Names []string
	// Source says where the names came from, for messages: "pod annotation
	// ipam.ipkeeper.dev/pools.net1", ..., "CNI configuration".
	Source string
}

// Names returns the pool names for network, the CNI network name of the
// call, from the first of: the pod's ipam.ipkeeper.dev/pools.<network>, its
// ipam.ipkeeper.dev/pools, the namespace's two in the same order, and the
// configuration's list.
func Names(network string, podAnnotations, namespaceAnnotations map[string]string, configured []string) (Choice, error) {
	keys := []string{ipamv1alpha1.AnnotationPools}
	if network != "" {
		keys = []string{ipamv1alpha1.NetworkPoolsAnnotation(network), ipamv1alpha1.AnnotationPools}
	}
	for _, source := range []struct {
		name        string
		annotations map[string]string
	}{{"pod", podAnnotations}, {"namespace", namespaceAnnotations}} {
		for _, key := range keys {
			value, ok := source.annotations[key]
			if !ok {
				continue
			}
			names := splitList(value)
			if len(names) == 0 {
				return Choice{}, ipamerr.New(ErrBadAnnotation, "the %s annotation %s is empty: list pool names separated by commas, or remove it",
					source.name, key)
			}
			return Choice{Names: names, Source: source.name + " annotation " + key}, nil
		}
	}
	if len(configured) == 0 {
		return Choice{}, ipamerr.New(ErrNoPools, "no pool to allocate from: set ipam.pools in the CNI configuration or annotate the pod or namespace with %s",
			ipamv1alpha1.AnnotationPools)
	}
	return Choice{Names: configured, Source: configSource}, nil
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
	// then holds only the pool that contains it. RequestedBy names where it
	// was asked for, and SamePodAdvice, when set, is what to do when another
	// interface of the same pod holds it.
	Requested     netip.Addr
	RequestedBy   string
	SamePodAdvice string
	// skipped are the named pools of the family that cannot serve the pod,
	// so that an exact address in one of them gets the reason.
	skipped []skippedPool
}

// skippedPool is a pool that cannot serve the pod, and why.
type skippedPool struct {
	pool   *ipamv1alpha1.IPPool
	prefix netip.Prefix
	reason error
}

// Placement is where the pod runs: what the pools' selectors match.
type Placement struct {
	Node       string
	NodeLabels map[string]string
	// Namespace is the pod's namespace; empty when the runtime named no
	// pod.
	Namespace       string
	NamespaceLabels map[string]string
}

// Choose returns, per family the named pools cover, the usable pools in
// order. pools maps each name to its pool (nil when it does not exist). A
// pool that does not exist, a pool an annotation names that the namespace
// may not use, or a family whose pools are all unusable, fails the whole
// choice: a dual-stack pod must not silently come up single-stack.
func Choose(choice Choice, pools map[string]*ipamv1alpha1.IPPool, where Placement) ([]Family, error) {
	var families []Family
	var reasons []error
	for _, name := range choice.Names {
		pool := pools[name]
		if pool == nil {
			// Its family is unknown, so skipping it could leave a dual-stack
			// pod with one family and no word of it.
			return nil, ipamerr.New(ErrPoolMissing, "pool %s does not exist: create it or fix the pool name", name)
		}
		prefix, err := ipspace.ParsePrefix(pool.Spec.CIDR)
		if err != nil {
			return nil, ipamerr.New(ErrPoolUnavailable, "pool %s has an invalid cidr: %v", name, err)
		}
		f := family(&families, prefix.Addr().Is4())
		err = usable(pool, where.Node, where.NodeLabels)
		if err == nil {
			err = Allows(pool, where.Namespace, where.NamespaceLabels)
			if errors.Is(err, ErrNamespaceNotSelected) && !choice.Configured() {
				return nil, err
			}
		}
		if err != nil {
			reasons = append(reasons, err)
			f.skipped = append(f.skipped, skippedPool{pool: pool, prefix: prefix, reason: err})
			continue
		}
		f.Pools = append(f.Pools, pool)
	}
	for _, f := range families {
		if len(f.Pools) == 0 {
			return nil, firstReason(reasons)
		}
	}
	return families, nil
}

// family returns the family of families for v4, adding it when missing.
func family(families *[]Family, v4 bool) *Family {
	for i := range *families {
		if (*families)[i].IPv4 == v4 {
			return &(*families)[i]
		}
	}
	*families = append(*families, Family{IPv4: v4})
	return &(*families)[len(*families)-1]
}

// firstReason returns the first reason with its kind, followed by the
// others, so the message names every pool that was skipped.
func firstReason(reasons []error) error {
	if len(reasons) == 0 {
		return ipamerr.New(ErrPoolUnavailable, "no pool to allocate from")
	}
	var first *ipamerr.Error
	if errors.As(reasons[0], &first) && len(reasons) > 1 {
		msgs := make([]string, len(reasons))
		for i, r := range reasons {
			msgs[i] = r.Error()
		}
		return ipamerr.New(first.Kind, "%s", strings.Join(msgs, "; "))
	}
	return reasons[0]
}
