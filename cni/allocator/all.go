package allocator

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"time"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
)

// rollbackTimeout bounds the release of a half-done ADD. The release runs
// even when the ADD's own deadline has passed: leaving the claims would leak
// the addresses until the garbage collector finds them.
const rollbackTimeout = 10 * time.Second

// AllocateAll reserves one address per family for one pod interface. Each
// family lists requests for its pools in order of preference; when a pool is
// exhausted the next is tried. Families are allocated concurrently, so a
// dual-stack ADD waits no longer than a single-stack one, except that the
// families asking for an exact address go first when others do not: the
// address may be held or unusable, and a family allocated beside it might
// have claimed a new block for nothing. A family the interface already
// holds a claim of gets that claim back, so a repeated ADD returns what the
// first one reserved. When a family fails, every claim this call created is
// deleted before the error is returned: no ADD leaves half its addresses.
func (a *Allocator) AllocateAll(ctx context.Context, families [][]Request) ([]*ipamv1alpha1.IPClaim, error) {
	outcomes := make([]familyOutcome, len(families))
	exact := func(i int) bool { return families[i][0].Address.IsValid() }
	a.allocateFamilies(ctx, families, outcomes, exact)
	if !failed(outcomes) {
		a.allocateFamilies(ctx, families, outcomes, func(i int) bool { return !exact(i) })
	}
	claims := make([]*ipamv1alpha1.IPClaim, 0, len(families))
	var created []*ipamv1alpha1.IPClaim
	var errs []error
	for _, o := range outcomes {
		switch {
		case o.err != nil:
			errs = append(errs, o.err)
		case o.claim != nil:
			claims = append(claims, o.claim)
			if o.created {
				created = append(created, o.claim)
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(append(errs, a.release(ctx, created))...)
	}
	return claims, nil
}

// familyOutcome is what the allocation of one family gave: its claim, and
// whether this ADD created it, or its error.
type familyOutcome struct {
	claim   *ipamv1alpha1.IPClaim
	created bool
	err     error
}

// allocateFamilies allocates, concurrently, the families whose index
// selected accepts, into their outcomes.
func (a *Allocator) allocateFamilies(ctx context.Context, families [][]Request, outcomes []familyOutcome, selected func(int) bool) {
	var wg sync.WaitGroup
	for i, reqs := range families {
		if !selected(i) {
			continue
		}
		wg.Go(func() {
			claim, created, err := a.allocateFamily(ctx, reqs)
			outcomes[i] = familyOutcome{claim: claim, created: created, err: err}
		})
	}
	wg.Wait()
}

// failed reports whether any family failed.
func failed(outcomes []familyOutcome) bool {
	for _, o := range outcomes {
		if o.err != nil {
			return true
		}
	}
	return false
}

// allocateFamily returns the claim the interface already holds in the
// family, or allocates from the first pool of reqs that is not exhausted;
// when all are, it returns the first pool's error. It reports whether it
// created the claim.
func (a *Allocator) allocateFamily(ctx context.Context, reqs []Request) (*ipamv1alpha1.IPClaim, bool, error) {
	existing, err := a.existingClaim(ctx, reqs[0])
	if existing != nil || err != nil {
		return existing, false, err
	}
	var firstErr error
	for _, req := range reqs {
		claim, created, err := a.allocate(ctx, req)
		if !errors.Is(err, ErrExhausted) {
			return claim, created, err
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return nil, false, firstErr
}

// existingClaim returns the claim the request's container interface holds
// in the request's family, if any. The node's list may be a moment stale,
// so a claim found there is confirmed with a consistent read: after a DEL
// and a new ADD of the same interface, a cached copy of the deleted claim
// must not come back as a reservation nobody holds.
func (a *Allocator) existingClaim(ctx context.Context, req Request) (*ipamv1alpha1.IPClaim, error) {
	for i := range req.NodeClaims {
		c := &req.NodeClaims[i]
		if c.Spec.Type != ipamv1alpha1.ClaimTypeAddress || !SameOwner(c, req.Owner) {
			continue
		}
		addr, err := netip.ParseAddr(c.Spec.Address)
		if err != nil || addr.Is4() != req.Layout.Prefix().Addr().Is4() {
			continue
		}
		live, err := a.Store.Get(ctx, c.Name)
		if errors.Is(err, ErrNotFound) || (err == nil && live.UID != c.UID) {
			return nil, nil
		}
		return live, err
	}
	return nil, nil
}

// release deletes claims, after a failure, with a deadline of its own.
func (a *Allocator) release(ctx context.Context, claims []*ipamv1alpha1.IPClaim) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
	defer cancel()
	var errs []error
	for _, c := range claims {
		if err := a.Store.Delete(ctx, c); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
