package plugin

import (
	"context"
	"maps"
	"slices"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
	"github.com/ipkeeper/ipkeeper/cni/nodestate"
)

// held is what an ADD holds when it allocates: the node's locks on some
// pools and, when it was started under them, the list of the node's claims
// (earlyList).
type held struct {
	pools  []string
	unlock func()
	early  *earlyList
}

// hold takes the node's lock on each of pools.
func (p *Plugin) hold(ctx context.Context, dir *nodestate.Dir, pools []string) (*held, error) {
	unlock, err := dir.Lock(ctx, pools)
	if err != nil {
		return nil, err
	}
	return &held{pools: pools, unlock: unlock}, nil
}

// covers reports whether h holds the lock of every one of pools.
func (h *held) covers(pools []string) bool {
	for _, pool := range pools {
		if !slices.Contains(h.pools, pool) {
			return false
		}
	}
	return true
}

// states returns what the node remembers of pools, which h holds: as read
// when the early list started under the same locks, else read now.
func (h *held) states(dir *nodestate.Dir, pools []string) map[string]nodestate.PoolState {
	if h.early == nil {
		return poolStates(dir, pools)
	}
	states := make(map[string]nodestate.PoolState, len(pools))
	for _, name := range pools {
		states[name] = h.early.states[name]
	}
	return states
}

// release abandons the list and releases the locks; releasing twice is
// harmless.
func (h *held) release() {
	h.early.stop()
	h.early = nil
	if h.unlock != nil {
		h.unlock()
		h.unlock = nil
	}
}

// earlyList is the list of the node's own claims that an ADD starts beside
// its reads of the pod, its namespace and the configured pools, under the
// node's lock on those pools: when the pools are chosen, the claims are in
// hand, and the create is the second round trip, not the third. It asks
// for a list not older than the newest version remembered for any of the
// pools, before their UIDs are known to match what the node remembers.
type earlyList struct {
	states map[string]nodestate.PoolState
	asked  string
	cancel context.CancelFunc
	done   chan struct{}
	claims []ipamv1alpha1.IPClaim
	err    error
}

// startNodeClaims starts listing the node's claims not older than the
// newest version of states.
func (p *Plugin) startNodeClaims(ctx context.Context, states map[string]nodestate.PoolState) *earlyList {
	ctx, cancel := context.WithCancel(ctx)
	l := &earlyList{states: states, cancel: cancel, done: make(chan struct{})}
	l.asked = nodestate.NewestResourceVersion(slices.Collect(maps.Values(states))...)
	go func() {
		defer close(l.done)
		l.claims, l.err = p.Cluster.NodeClaims(ctx, p.Node, l.asked)
	}()
	return l
}

// stop abandons the list, if it is still running, and waits for it.
func (l *earlyList) stop() {
	if l != nil {
		l.cancel()
		<-l.done
	}
}

// trusted reports whether the version the list asked for, if any, was
// remembered for the pool of the same UID as the one read now. One that
// was not comes from a cluster rebuilt under the node: the API server may
// never reach it, and the list would wait for it in vain.
func (l *earlyList) trusted(pools map[string]*ipamv1alpha1.IPPool) bool {
	if l.asked == "" {
		return true
	}
	for name, st := range l.states {
		if pool := pools[name]; st.ResourceVersion == l.asked && pool != nil && st.Trusted(string(pool.UID)) {
			return true
		}
	}
	return false
}

// forgetDistrusted forgets the versions the node remembers of the listed
// pools for a pool of another UID, or for a pool that is gone, so that the
// next ADD's list does not ask for them. The node holds the pools' locks.
// A configured pool that no ADD chooses would otherwise keep such a
// version forever, and every ADD would list twice.
func (l *earlyList) forgetDistrusted(dir *nodestate.Dir, pools map[string]*ipamv1alpha1.IPPool) {
	for name, st := range l.states {
		pool := pools[name]
		if st.ResourceVersion == "" || (pool != nil && st.Trusted(string(pool.UID))) {
			continue
		}
		st.ResourceVersion = ""
		if pool != nil {
			st.PoolUID = string(pool.UID)
		}
		_ = dir.SavePool(name, st)
	}
}

// nodeClaims returns the node's claims, not older than the node's last
// write in the chosen pools (trustedVersion): the early list when there is
// one and its version could be trusted or it had already answered, else a
// new list.
func (p *Plugin) nodeClaims(ctx context.Context, dir *nodestate.Dir, early *earlyList, pools map[string]*ipamv1alpha1.IPPool, trustedVersion string) ([]ipamv1alpha1.IPClaim, error) {
	if early == nil {
		return p.Cluster.NodeClaims(ctx, p.Node, trustedVersion)
	}
	if early.trusted(pools) {
		<-early.done
		return early.claims, early.err
	}
	early.cancel()
	<-early.done
	early.forgetDistrusted(dir, pools)
	if early.err == nil {
		return early.claims, nil
	}
	return p.Cluster.NodeClaims(ctx, p.Node, trustedVersion)
}
