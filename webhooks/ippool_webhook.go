package webhooks

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/ipkeeper/ipkeeper/api/ipspace"
	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
)

// +kubebuilder:webhook:path=/validate-ipam-ipkeeper-dev-v1alpha1-ippool,mutating=false,failurePolicy=fail,sideEffects=None,groups=ipam.ipkeeper.dev,resources=ippools,verbs=create;update,versions=v1alpha1,name=vippool.ipam.ipkeeper.dev,admissionReviewVersions=v1,timeoutSeconds=5
// +kubebuilder:rbac:groups=ipam.ipkeeper.dev,resources=ippools;ipclaims,verbs=get;list;watch

// maxClaimedListed caps how many claimed addresses a refused pool update
// lists, so that excluding a busy range gives a readable answer.
const maxClaimedListed = 5

// IPPoolValidator admits IPPools. It refuses what the CRD's own rules cannot
// see across objects or fields: a pool overlapping another, exclusions,
// gateway and routes outside the pool or of the other family, and an update
// that would take a claimed address out of service.
type IPPoolValidator struct {
	// Reader reads pools and claims. It is the manager's cache, so that
	// admission never waits on the API server.
	Reader client.Reader

	// mu serialises creates, so that two overlapping pools arriving together
	// at this replica are not both admitted before the cache shows either.
	mu sync.Mutex
	// recent holds the pools admitted but not yet seen in the cache.
	recent map[string]recentPool
	// now is the clock; nil means time.Now.
	now func() time.Time
}

var _ admission.Validator[*ipamv1alpha1.IPPool] = (*IPPoolValidator)(nil)

// ValidateCreate admits a new pool.
func (v *IPPoolValidator) ValidateCreate(ctx context.Context, pool *ipamv1alpha1.IPPool) (admission.Warnings, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	errs := v.validate(ctx, nil, pool)
	if len(errs) == 0 && !isDryRun(ctx) {
		v.remember(pool)
	}
	return nil, denied(poolKind, pool.Name, errs)
}

// ValidateUpdate admits a change to a pool.
func (v *IPPoolValidator) ValidateUpdate(ctx context.Context, oldPool, pool *ipamv1alpha1.IPPool) (admission.Warnings, error) {
	return nil, denied(poolKind, pool.Name, v.validate(ctx, oldPool, pool))
}

// ValidateDelete admits every delete: the pool's finalizer, not the
// webhook, keeps a pool in use from going away.
func (v *IPPoolValidator) ValidateDelete(context.Context, *ipamv1alpha1.IPPool) (admission.Warnings, error) {
	return nil, nil
}

// validate checks a new pool (old is nil) or a change to one. Updates that
// leave the spec alone (finalizers, labels) are never refused, so that a
// pool stored while the webhook was away can still be deleted.
func (v *IPPoolValidator) validate(ctx context.Context, old, pool *ipamv1alpha1.IPPool) field.ErrorList {
	if old != nil && equality.Semantic.DeepEqual(old.Spec, pool.Spec) {
		return nil
	}
	spec := field.NewPath("spec")
	var errs field.ErrorList
	if old != nil {
		errs = immutablePoolFields(spec, &old.Spec, &pool.Spec)
	}
	prefix, specErrs := pool.Spec.Validate(spec)
	specErrs = append(specErrs, pool.Spec.ValidateSelectors(spec)...)
	for _, e := range specErrs {
		e.Origin = reasonInvalidSpec
	}
	if errs = append(errs, specErrs...); len(errs) > 0 {
		return errs
	}
	if old == nil {
		return v.validateNoOverlap(ctx, spec.Child("cidr"), pool, prefix)
	}
	return v.validateClaimedAddresses(ctx, spec, old, pool)
}

// invalid is field.Invalid with the denial reason as its origin.
func invalid(path *field.Path, value any, detail, reason string) *field.Error {
	return field.Invalid(path, value, detail).WithOrigin(reason)
}

// immutablePoolFields refuses changes to cidr and blockSize: every claim and
// block of the pool was cut from them.
func immutablePoolFields(spec *field.Path, old, s *ipamv1alpha1.IPPoolSpec) field.ErrorList {
	var errs field.ErrorList
	if old.CIDR != s.CIDR {
		errs = append(errs, invalid(spec.Child("cidr"), s.CIDR,
			fmt.Sprintf("cidr is immutable (it was %s): create a new pool for the new range", old.CIDR), reasonImmutable))
	}
	if !ptr.Equal(old.BlockSize, s.BlockSize) {
		errs = append(errs, invalid(spec.Child("blockSize"), blockSizeValue(s.BlockSize),
			fmt.Sprintf("blockSize is immutable (it was %v): nodes' blocks are cut to it; create a new pool for another block size",
				blockSizeValue(old.BlockSize)), reasonImmutable))
	}
	return errs
}

// blockSizeValue shows an optional block size in messages.
func blockSizeValue(bits *int32) any {
	if bits == nil {
		return "unset"
	}
	return *bits
}

// validateNoOverlap refuses a new pool that shares an address with a pool
// in the cache or one this replica has just admitted. The cache may lag and
// other replicas admit too, so the IPPool controller still resolves the
// overlaps that get through: the older pool wins.
func (v *IPPoolValidator) validateNoOverlap(ctx context.Context, path *field.Path, pool *ipamv1alpha1.IPPool, prefix netip.Prefix) field.ErrorList {
	var pools ipamv1alpha1.IPPoolList
	if err := v.Reader.List(ctx, &pools); err != nil {
		return field.ErrorList{field.InternalError(path, fmt.Errorf("list pools from the cache: %w", err))}
	}
	var errs field.ErrorList
	for _, other := range v.knownPools(pools.Items) {
		if other.name == pool.Name || !other.cidr.Overlaps(prefix) {
			continue
		}
		note := ""
		if other.creating {
			note = ", being created"
		}
		errs = append(errs, invalid(path, pool.Spec.CIDR, fmt.Sprintf(
			"%s overlaps pool %q (%s%s): an address belongs to one pool only; pick a range outside %s, or delete pool %q first",
			prefix, other.name, other.cidr, note, other.cidr, other.name), reasonOverlap))
	}
	return errs
}

// heldAddress is an address a claim holds.
type heldAddress struct {
	addr  netip.Addr
	claim *ipamv1alpha1.IPClaim
}

// validateClaimedAddresses refuses an update that excludes, or moves the
// gateway onto, an address an Address claim of the pool holds: the pod would
// keep an address the pool says is never handed out. Addresses that were
// already unusable before the update do not block it.
func (v *IPPoolValidator) validateClaimedAddresses(ctx context.Context, spec *field.Path, old, pool *ipamv1alpha1.IPPool) field.ErrorList {
	if old.Spec.Gateway == pool.Spec.Gateway && slices.Equal(old.Spec.Exclude, pool.Spec.Exclude) {
		return nil
	}
	after, err := pool.Spec.Layout()
	if err != nil {
		return field.ErrorList{invalid(spec, pool.Spec.CIDR, err.Error(), reasonInvalidSpec)}
	}
	before, beforeErr := old.Spec.Layout()
	var claims ipamv1alpha1.IPClaimList
	if err := v.Reader.List(ctx, &claims, client.MatchingFields{ipamv1alpha1.FieldPool: pool.Name}); err != nil {
		return field.ErrorList{field.InternalError(spec, fmt.Errorf("list the claims of pool %s from the cache: %w", pool.Name, err))}
	}
	var held []heldAddress
	for i := range claims.Items {
		c := &claims.Items[i]
		a, err := ipspace.ParseAddr(c.Spec.Address)
		if c.Spec.Type != ipamv1alpha1.ClaimTypeAddress || err != nil || after.Contains(a) {
			continue
		}
		if beforeErr == nil && !before.Contains(a) {
			continue
		}
		held = append(held, heldAddress{addr: a, claim: c})
	}
	slices.SortFunc(held, func(x, y heldAddress) int { return x.addr.Compare(y.addr) })
	var errs field.ErrorList
	for _, h := range held[:min(len(held), maxClaimedListed)] {
		errs = append(errs, claimedError(spec, &pool.Spec, h))
	}
	if n := len(held) - maxClaimedListed; n > 0 {
		errs = append(errs, invalid(spec, pool.Spec.CIDR, fmt.Sprintf(
			"%d more claimed addresses would become unusable: list them with kubectl get ipclaims --field-selector spec.pool=%s",
			n, pool.Name), reasonClaimedAddress))
	}
	return errs
}

// claimedError names the field that takes h out of service, the claim and
// its pod.
func claimedError(spec *field.Path, s *ipamv1alpha1.IPPoolSpec, h heldAddress) *field.Error {
	holder := fmt.Sprintf("%s is held by claim %q of %s: release it first (delete the pod, or the claim)", h.addr, h.claim.Name, h.claim.Holder())
	if gw, err := ipspace.ParseAddr(s.Gateway); err == nil && gw == h.addr {
		return invalid(spec.Child("gateway"), s.Gateway, holder+", or pick an unclaimed gateway", reasonClaimedAddress)
	}
	for i, e := range s.Exclude {
		if r, err := ipspace.ParseRange(e); err == nil && r.Contains(h.addr) {
			return invalid(spec.Child("exclude").Index(i), e, holder+", or exclude a range without it", reasonClaimedAddress)
		}
	}
	return invalid(spec, h.addr.String(), holder, reasonClaimedAddress)
}

// isDryRun reports whether the request being admitted will not be stored.
func isDryRun(ctx context.Context) bool {
	req, err := admission.RequestFromContext(ctx)
	return err == nil && ptr.Deref(req.DryRun, false)
}
