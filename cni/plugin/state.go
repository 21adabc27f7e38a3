package plugin

import (
	"context"
	"net/netip"
	"slices"
	"strconv"
	"sync"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
	"github.com/ipkeeper/ipkeeper/cni/allocator"
	"github.com/ipkeeper/ipkeeper/cni/nodestate"
	"github.com/ipkeeper/ipkeeper/cni/poolchoice"
)

// createRecorder is the allocator's store, noting per pool the newest
// resourceVersion of the claims created through it (blocks too), so that
// the node's next list sees them even when this call fails after a create.
type createRecorder struct {
	allocator.Store
	mu     sync.Mutex
	newest map[string]uint64
}

// Create implements allocator.Store.
func (r *createRecorder) Create(ctx context.Context, claim *ipamv1alpha1.IPClaim) error {
	if err := r.Store.Create(ctx, claim); err != nil {
		return err
	}
	v, err := strconv.ParseUint(claim.ResourceVersion, 10, 64)
	if err != nil {
		return nil // not a number: the next list reads consistently instead
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.newest == nil {
		r.newest = map[string]uint64{}
	}
	r.newest[claim.Spec.Pool] = max(r.newest[claim.Spec.Pool], v)
	return nil
}

// trusted returns the states of the chosen pools whose resourceVersion may
// be asked for: those kept for the pool of the same UID. A node whose
// cluster was rebuilt under it remembers versions this API server never
// issued; asking for one would hold the read until the API server gives
// up.
func trusted(states map[string]nodestate.PoolState, families []poolchoice.Family) []nodestate.PoolState {
	var out []nodestate.PoolState
	for pool, uid := range poolUIDs(families) {
		if st, ok := states[pool]; ok && st.Trusted(uid) {
			out = append(out, st)
		}
	}
	return out
}

// poolUIDs maps the names of the chosen pools to their UIDs.
func poolUIDs(families []poolchoice.Family) map[string]string {
	uids := map[string]string{}
	for _, f := range families {
		for _, pool := range f.Pools {
			uids[pool.Name] = string(pool.UID)
		}
	}
	return uids
}

// saveStates records, per pool, the resourceVersion of the newest claim
// created and the pool's UID, and moves the cursor to the address just
// handed out; an exact address the pod asked for does not move it. When a
// remembered version was not trusted, the versions newer than the claims
// just created are forgotten in every pool: they come from another
// cluster. Failing to save is harmless: the next ADD only starts its
// search elsewhere and reads more carefully.
func saveStates(dir *nodestate.Dir, states map[string]nodestate.PoolState, families []poolchoice.Family, claims []*ipamv1alpha1.IPClaim, created *createRecorder) {
	uids := poolUIDs(families)
	var distrusted bool
	var newest uint64
	for pool, st := range states {
		if !st.Trusted(uids[pool]) {
			distrusted, st.ResourceVersion = true, ""
		}
		changed := false
		if v, ok := created.newest[pool]; ok {
			st.ResourceVersion, changed = strconv.FormatUint(v, 10), true
			newest = max(newest, v)
		}
		for _, claim := range claims {
			addr, err := netip.ParseAddr(claim.Spec.Address)
			if claim.Spec.Pool == pool && err == nil && !requested(families, addr) {
				st.Cursor, changed = addr, true
			}
		}
		if changed {
			st.PoolUID = uids[pool]
			_ = dir.SavePool(pool, st)
		}
	}
	if distrusted && newest > 0 {
		_ = dir.ForgetNewerThan(strconv.FormatUint(newest, 10))
	}
}

// requested reports whether the pod asked for addr by annotation.
func requested(families []poolchoice.Family, addr netip.Addr) bool {
	return slices.ContainsFunc(families, func(f poolchoice.Family) bool { return f.Requested == addr })
}
