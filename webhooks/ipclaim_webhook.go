package webhooks

import (
	"context"
	"fmt"
	"net/netip"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/ipkeeper/ipkeeper/api/ipspace"
	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
)

// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:webhook:path=/validate-ipam-ipkeeper-dev-v1alpha1-ipclaim,mutating=false,failurePolicy=fail,sideEffects=None,groups=ipam.ipkeeper.dev,resources=ipclaims,verbs=create;update,versions=v1alpha1,name=vipclaim.ipam.ipkeeper.dev,admissionReviewVersions=v1,timeoutSeconds=5,patch=`{"matchConditions":[{"name":"not-node-bound","expression":"!('authentication.kubernetes.io/node-name' in request.userInfo.extra)"}]}`

// ipkeeperLabels are the claim labels nodes list by, so they must agree
// with the spec.
var ipkeeperLabels = []string{ipamv1alpha1.LabelPool, ipamv1alpha1.LabelNode, ipamv1alpha1.LabelBlock}

// IPClaimValidator admits the IPClaims people make: the plugin's requests
// skip it (ipamv1alpha1.NotNodeBoundCondition; the marker above carries
// the condition, and a test compares it with the constants). It reads the
// manager's cache: one pool by name and the claims of one container by
// index, never a scan of the pool; the API server only for a pool the
// cache does not hold.
type IPClaimValidator struct {
	// Reader reads pools and claims: the manager's cache, with the IPClaim
	// field indexes of claimindex.Register.
	Reader client.Reader
	// APIReader reads, from the API server, a pool Reader does not hold:
	// one created a moment ago may not have reached the cache, and a claim
	// from it must not be refused for that. Nil reads the cache only.
	APIReader client.Reader
}

var _ admission.Validator[*ipamv1alpha1.IPClaim] = (*IPClaimValidator)(nil)

// ValidateCreate admits a new claim.
func (v *IPClaimValidator) ValidateCreate(ctx context.Context, claim *ipamv1alpha1.IPClaim) (admission.Warnings, error) {
	return nil, denied(claimKind, claim.Name, v.validate(ctx, nil, claim))
}

// ValidateUpdate admits a change to a claim's metadata.
func (v *IPClaimValidator) ValidateUpdate(ctx context.Context, oldClaim, claim *ipamv1alpha1.IPClaim) (admission.Warnings, error) {
	return nil, denied(claimKind, claim.Name, v.validate(ctx, oldClaim, claim))
}

// ValidateDelete admits every delete: releasing an address is always
// allowed.
func (v *IPClaimValidator) ValidateDelete(context.Context, *ipamv1alpha1.IPClaim) (admission.Warnings, error) {
	return nil, nil
}

// validate checks a new claim (old is nil) or a change to one. An update
// is judged only on what it changes, so that claims of a pool that has since
// been disabled or deleted can still get finalizers and annotations.
func (v *IPClaimValidator) validate(ctx context.Context, old, claim *ipamv1alpha1.IPClaim) field.ErrorList {
	if old != nil {
		return append(immutableClaimSpec(old, claim), immutableClaimLabels(old, claim)...)
	}
	spec := field.NewPath("spec")
	pool, layout, errs := v.usablePool(ctx, spec.Child("pool"), claim.Spec.Pool)
	if len(errs) > 0 {
		return errs
	}
	var block netip.Prefix
	switch claim.Spec.Type {
	case ipamv1alpha1.ClaimTypeAddress:
		var addrErrs field.ErrorList
		block, addrErrs = validateAddress(spec.Child("address"), claim, pool, layout)
		errs = append(errs, addrErrs...)
		errs = append(errs, v.validateUnique(ctx, spec.Child("owner"), claim)...)
		errs = append(errs, v.validateNamespace(ctx, spec, claim, pool)...)
	case ipamv1alpha1.ClaimTypeBlock:
		var blockErrs field.ErrorList
		block, blockErrs = validateBlock(spec.Child("cidr"), claim, pool, layout)
		errs = append(errs, blockErrs...)
	}
	return append(errs, validateLabels(claim, block)...)
}

// usablePool returns the claim's pool and its layout, or why no new
// address may come from it.
func (v *IPClaimValidator) usablePool(ctx context.Context, path *field.Path, name string) (*ipamv1alpha1.IPPool, ipspace.Layout, field.ErrorList) {
	var pool ipamv1alpha1.IPPool
	err := v.getPool(ctx, name, &pool)
	var detail, reason string
	switch {
	case apierrors.IsNotFound(err):
		detail, reason = fmt.Sprintf("no IPPool %q exists: name an existing pool (kubectl get ippools) or create it first", name), reasonPoolMissing
	case err != nil:
		return nil, ipspace.Layout{}, field.ErrorList{field.InternalError(path, fmt.Errorf("get pool %s: %w", name, err))}
	case pool.DeletionTimestamp != nil:
		detail, reason = fmt.Sprintf("pool %q is being deleted and hands out no new addresses: claim from another pool", name), reasonPoolUnavailable
	case pool.Spec.Disabled:
		detail, reason = fmt.Sprintf("pool %q is disabled (spec.disabled) and hands out no new addresses: enable it or claim from another pool", name), reasonPoolUnavailable
	}
	if detail != "" {
		return nil, ipspace.Layout{}, field.ErrorList{invalid(path, name, detail, reason)}
	}
	layout, err := pool.Spec.Layout()
	if err != nil {
		return nil, layout, field.ErrorList{invalid(path, name, fmt.Sprintf(
			"pool %q has an invalid spec (%v): fix the pool first", name, err), reasonPoolUnavailable)}
	}
	return &pool, layout, nil
}

// getPool reads pool name from the cache or, when the cache does not hold
// it, from the API server.
func (v *IPClaimValidator) getPool(ctx context.Context, name string, pool *ipamv1alpha1.IPPool) error {
	err := v.Reader.Get(ctx, client.ObjectKey{Name: name}, pool)
	if apierrors.IsNotFound(err) && v.APIReader != nil {
		err = v.APIReader.Get(ctx, client.ObjectKey{Name: name}, pool)
	}
	return err
}

// validateAddress checks that an Address claim's address is a usable
// address of its pool and returns the block holding it.
func validateAddress(path *field.Path, claim *ipamv1alpha1.IPClaim, pool *ipamv1alpha1.IPPool, layout ipspace.Layout) (netip.Prefix, field.ErrorList) {
	prefix := layout.Prefix()
	a, err := ipspace.ParseAddr(claim.Spec.Address)
	if err != nil {
		return netip.Prefix{}, field.ErrorList{invalid(path, claim.Spec.Address, err.Error(), reasonInvalidSpec)}
	}
	if a.BitLen() != prefix.Addr().BitLen() || !prefix.Contains(a) {
		return netip.Prefix{}, field.ErrorList{invalid(path, claim.Spec.Address, fmt.Sprintf(
			"%s lies outside pool %q (%s %s): pick an address inside %s, or a pool that holds %s",
			a, pool.Name, ipspace.Family(prefix.Addr()), prefix, prefix, a), reasonOutsidePool)}
	}
	if why := layout.WhyUnusable(a); why != "" {
		return layout.BlockOf(a), field.ErrorList{invalid(path, claim.Spec.Address, fmt.Sprintf(
			"%s is %s and is never handed out; pick another address", a, why), reasonUnusable)}
	}
	return layout.BlockOf(a), nil
}

// validateBlock checks that a Block claim is one of its pool's blocks and
// returns it.
func validateBlock(path *field.Path, claim *ipamv1alpha1.IPClaim, pool *ipamv1alpha1.IPPool, layout ipspace.Layout) (netip.Prefix, field.ErrorList) {
	prefix := layout.Prefix()
	p, err := netip.ParsePrefix(claim.Spec.CIDR)
	if err != nil || p.Addr().Zone() != "" || p.Addr().Is4In6() {
		return netip.Prefix{}, field.ErrorList{invalid(path, claim.Spec.CIDR, "not a prefix such as 10.32.1.0/24", reasonInvalidSpec)}
	}
	if p.Addr().BitLen() != prefix.Addr().BitLen() || !prefix.Contains(p.Addr()) {
		return netip.Prefix{}, field.ErrorList{invalid(path, claim.Spec.CIDR, fmt.Sprintf(
			"%s lies outside pool %q (%s %s): claim a block inside %s", p, pool.Name, ipspace.Family(prefix.Addr()), prefix, prefix), reasonOutsidePool)}
	}
	if err := layout.CheckBlock(p); err != nil {
		return netip.Prefix{}, field.ErrorList{invalid(path, claim.Spec.CIDR, fmt.Sprintf(
			"%v: blocks of pool %q are /%d and start on a multiple of their size, e.g. %s", err, pool.Name, layout.BlockBits, layout.BlockOf(p.Addr())),
			reasonMisaligned)}
	}
	return p, nil
}

// validateUnique refuses a second Address claim of one pool for one pod
// interface. It looks the container up in the cache's index, so its cost
// does not grow with the pool.
func (v *IPClaimValidator) validateUnique(ctx context.Context, path *field.Path, claim *ipamv1alpha1.IPClaim) field.ErrorList {
	owner := claim.Spec.Owner
	if owner == nil || owner.ContainerID == "" {
		return nil
	}
	var claims ipamv1alpha1.IPClaimList
	if err := v.Reader.List(ctx, &claims, client.MatchingFields{ipamv1alpha1.FieldContainerID: owner.ContainerID}); err != nil {
		return field.ErrorList{field.InternalError(path, fmt.Errorf("list the claims of container %s from the cache: %w", owner.ContainerID, err))}
	}
	for i := range claims.Items {
		other := &claims.Items[i]
		// A claim of the same name is the same address: let the API server
		// answer AlreadyExists, which the CNI plugin handles.
		if other.Name == claim.Name || other.Spec.Type != ipamv1alpha1.ClaimTypeAddress || other.Spec.Pool != claim.Spec.Pool ||
			other.Spec.Owner == nil || other.Spec.Owner.Interface != owner.Interface {
			continue
		}
		return field.ErrorList{invalid(path.Child("interface"), owner.Interface, fmt.Sprintf(
			"interface %s of container %s already holds %s from pool %q (claim %q): an interface gets one address per pool; reuse that claim, or delete it first",
			owner.Interface, owner.ContainerID, other.Spec.Address, claim.Spec.Pool, other.Name), reasonDuplicate)}
	}
	return nil
}

// validateNamespace refuses an Address claim for a pod of a namespace the
// pool's namespaceSelector does not select: the plugin never makes one, and
// people must not take a tenant's addresses by hand either. A claim with
// no owner namespace is no pod's and is not judged by this rule. A
// namespace the cache does not hold has no labels, as for the plugin.
func (v *IPClaimValidator) validateNamespace(ctx context.Context, spec *field.Path, claim *ipamv1alpha1.IPClaim, pool *ipamv1alpha1.IPPool) field.ErrorList {
	owner := claim.Spec.Owner
	if owner == nil || owner.Namespace == "" {
		return nil
	}
	selector, err := pool.Spec.NamespaceSelection()
	switch {
	case err != nil:
		return field.ErrorList{invalid(spec.Child("pool"), pool.Name, fmt.Sprintf(
			"pool %q has an invalid namespaceSelector (%v): fix the pool first", pool.Name, err), reasonPoolUnavailable)}
	case selector == nil:
		return nil
	}
	ns := namespaceMeta()
	if err := v.Reader.Get(ctx, client.ObjectKey{Name: owner.Namespace}, ns); err != nil && !apierrors.IsNotFound(err) {
		return field.ErrorList{field.InternalError(spec.Child("owner", "namespace"), fmt.Errorf("get namespace %s from the cache: %w", owner.Namespace, err))}
	}
	if selector.Matches(labels.Set(ns.Labels)) {
		return nil
	}
	return field.ErrorList{invalid(spec.Child("owner", "namespace"), owner.Namespace, fmt.Sprintf(
		"pool %q does not select namespace %q (namespaceSelector %s): claim from a pool that selects the namespace, or label the namespace to match",
		pool.Name, owner.Namespace, selector), reasonNamespaceNotSelected)}
}

// validateLabels checks that the ipkeeper labels a claim carries agree with
// its spec: nodes list claims by them, so a wrong label hides a claim from
// the node that must see it. block is the claim's block, when known.
func validateLabels(claim *ipamv1alpha1.IPClaim, block netip.Prefix) field.ErrorList {
	var blockName string
	if block.IsValid() {
		blockName = ipspace.BlockClaimName(block)
	}
	want := ipamv1alpha1.ClaimLabels(claim.Spec.Pool, claim.Spec.Node, blockName)
	source := map[string]string{
		ipamv1alpha1.LabelPool:  "spec.pool",
		ipamv1alpha1.LabelNode:  "spec.node",
		ipamv1alpha1.LabelBlock: "the block holding the claim",
	}
	labels := field.NewPath("metadata", "labels")
	var errs field.ErrorList
	for _, key := range ipkeeperLabels {
		got, present := claim.Labels[key]
		expected, known := want[key]
		if !present || !known || got == expected {
			continue
		}
		errs = append(errs, invalid(labels.Key(key), got, fmt.Sprintf(
			"must be %q, from %s: nodes list claims by this label; set it to %q or leave it out", expected, source[key], expected), reasonLabels))
	}
	return errs
}

// immutableClaimSpec refuses any change to a claim's spec (the CRD refuses
// it too, but says less): a reservation is released by deleting it.
func immutableClaimSpec(old, claim *ipamv1alpha1.IPClaim) field.ErrorList {
	if equality.Semantic.DeepEqual(old.Spec, claim.Spec) {
		return nil
	}
	spec := field.NewPath("spec")
	fields := []struct {
		name     string
		old, new string
	}{
		{"pool", old.Spec.Pool, claim.Spec.Pool},
		{"type", string(old.Spec.Type), string(claim.Spec.Type)},
		{"node", old.Spec.Node, claim.Spec.Node},
		{"address", old.Spec.Address, claim.Spec.Address},
		{"cidr", old.Spec.CIDR, claim.Spec.CIDR},
	}
	const fix = "a claim's spec never changes: delete the claim and create a new one"
	var errs field.ErrorList
	for _, f := range fields {
		if f.old != f.new {
			errs = append(errs, invalid(spec.Child(f.name), f.new, fmt.Sprintf("was %q; %s", f.old, fix), reasonImmutable))
		}
	}
	if !equality.Semantic.DeepEqual(old.Spec.Owner, claim.Spec.Owner) {
		errs = append(errs, field.Forbidden(spec.Child("owner"), "the owner changed; "+fix).WithOrigin(reasonImmutable))
	}
	return errs
}

// immutableClaimLabels refuses adding, changing or removing an ipkeeper
// label: they are derived from the immutable spec, and nodes list by them.
func immutableClaimLabels(old, claim *ipamv1alpha1.IPClaim) field.ErrorList {
	labels := field.NewPath("metadata", "labels")
	var errs field.ErrorList
	for _, key := range ipkeeperLabels {
		was, hadIt := old.Labels[key]
		is, hasIt := claim.Labels[key]
		switch {
		case was == is && hadIt == hasIt:
			continue
		case !hasIt:
			errs = append(errs, field.Forbidden(labels.Key(key), fmt.Sprintf(
				"removed, but ipkeeper labels never change: nodes list claims by them; put back %q", was)).WithOrigin(reasonLabels))
		case !hadIt:
			errs = append(errs, invalid(labels.Key(key), is,
				"added, but ipkeeper labels never change: nodes list claims by them; leave it out", reasonLabels))
		default:
			errs = append(errs, invalid(labels.Key(key), is, fmt.Sprintf(
				"was %q, but ipkeeper labels never change: nodes list claims by them; put back %q", was, was), reasonLabels))
		}
	}
	return errs
}
