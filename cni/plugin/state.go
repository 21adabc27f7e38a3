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

// storeRecorder is the allocator's store, noting what the node's state
// must remember: per pool, the newest resourceVersion of the claims created
// through it (blocks too), so that the node's next list sees them even when
// this call fails after a create; and the blocks of other nodes a borrowing
// search read, so that a search that found nothing continues after them.
type storeRecorder struct {
	allocator.Store
	mu     sync.Mutex
	newest map[string]uint64
	read   []netip.Prefix
}

// BlockAddresses implements allocator.Store.
func (r *storeRecorder) BlockAddresses(ctx context.Context, block netip.Prefix) ([]netip.Addr, error) {
	r.mu.Lock()
	r.read = append(r.read, block)
	r.mu.Unlock()
	return r.Store.BlockAddresses(ctx, block)
}

// lastRead returns the last block read inside prefix.
func (r *storeRecorder) lastRead(prefix netip.Prefix) (netip.Prefix, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, block := range slices.Backward(r.read) {
		if prefix.Overlaps(block) {
			return block, true
		}
	}
	return netip.Prefix{}, false
}

// Create implements allocator.Store.
func (r *storeRecorder) Create(ctx context.Context, claim *ipamv1alpha1.IPClaim) error {
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

// poolStates reads what the node remembers of pools.
func poolStates(dir *nodestate.Dir, pools []string) map[string]nodestate.PoolState {
	states := make(map[string]nodestate.PoolState, len(pools))
	for _, name := range pools {
		states[name] = dir.Pool(name)
	}
	return states
}

// forgetUnreached drops the versions the node remembers beyond reached,
// the API server's version when a list not older than one of them did not
// come in time (Cluster.Reached): they come from a cluster rebuilt or
// restored under the node, whatever the pool, and every later list not
// older than them would wait in vain. It reports whether it looked.
func forgetUnreached(dir *nodestate.Dir, reached string) bool {
	if reached == "" {
		return false
	}
	_ = dir.ForgetNewerThan(reached)
	return true
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
	for _, pool := range chosenPools(families) {
		uids[pool.Name] = string(pool.UID)
	}
	return uids
}

// chosenPools returns the pools of every family.
func chosenPools(families []poolchoice.Family) []*ipamv1alpha1.IPPool {
	var pools []*ipamv1alpha1.IPPool
	for _, f := range families {
		pools = append(pools, f.Pools...)
	}
	return pools
}

// saveStates records, per pool, the resourceVersion of the newest claim
// created and the pool's UID, and moves the cursor to the address just
// handed out; an exact address the pod asked for does not move it. When no
// address was handed out but a borrowing search read blocks of the pool,
// the cursor moves to the last of them, so that the node's next search
// reads the blocks after it instead of the same ones again. When a
// remembered version was not trusted, the versions newer than the claims
// just created are forgotten in every pool: they come from another
// cluster. Failing to save is harmless: the next ADD only starts its
// search elsewhere and reads more carefully.
func saveStates(dir *nodestate.Dir, states map[string]nodestate.PoolState, families []poolchoice.Family, claims []*ipamv1alpha1.IPClaim, recorded *storeRecorder) {
	uids := poolUIDs(families)
	var distrusted bool
	var newest uint64
	for pool, st := range states {
		if !st.Trusted(uids[pool]) {
			distrusted, st.ResourceVersion = true, ""
		}
		changed := false
		if v, ok := recorded.newest[pool]; ok {
			st.ResourceVersion, changed = strconv.FormatUint(v, 10), true
			newest = max(newest, v)
		}
		if cursor, ok := nextCursor(pool, families, claims, recorded); ok {
			st.Cursor, changed = cursor, true
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

// nextCursor returns where the node's next search in pool starts: after
// the address just handed out from it, else in the last block of another
// node a borrowing search read in vain.
func nextCursor(pool string, families []poolchoice.Family, claims []*ipamv1alpha1.IPClaim, recorded *storeRecorder) (netip.Addr, bool) {
	for _, claim := range slices.Backward(claims) {
		addr, err := netip.ParseAddr(claim.Spec.Address)
		if claim.Spec.Pool == pool && err == nil && !requested(families, addr) {
			return addr, true
		}
	}
	for _, p := range chosenPools(families) {
		if p.Name != pool {
			continue
		}
		if prefix, err := netip.ParsePrefix(p.Spec.CIDR); err == nil {
			if block, ok := recorded.lastRead(prefix); ok {
				return block.Addr(), true
			}
		}
	}
	return netip.Addr{}, false
}

// requested reports whether the pod asked for addr by annotation.
func requested(families []poolchoice.Family, addr netip.Addr) bool {
	return slices.ContainsFunc(families, func(f poolchoice.Family) bool { return f.Requested == addr })
}
