package plugin

import (
	"context"
	"slices"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
	"github.com/ipkeeper/ipkeeper/cni/nodestate"
)

// poolLocks are the node's locks on some pools, with what the node
// remembers of them, read under the locks.
type poolLocks struct {
	pools  []string
	states map[string]nodestate.PoolState
	unlock func()
}

// lockPools takes the node's lock on each of pools.
func lockPools(ctx context.Context, dir *nodestate.Dir, pools []string) (*poolLocks, error) {
	unlock, err := dir.Lock(ctx, pools)
	if err != nil {
		return nil, err
	}
	return &poolLocks{pools: pools, states: poolStates(dir, pools), unlock: unlock}, nil
}

// covers reports whether the locks include every one of pools.
func (l *poolLocks) covers(pools []string) bool {
	for _, pool := range pools {
		if !slices.Contains(l.pools, pool) {
			return false
		}
	}
	return true
}

// release releases the locks; releasing twice is harmless.
func (l *poolLocks) release() {
	if l != nil && l.unlock != nil {
		l.unlock()
		l.unlock = nil
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
	cancel context.CancelFunc
	done   chan struct{}
	claims []ipamv1alpha1.IPClaim
	err    error
}

// startNodeClaims starts listing the node's claims not older than the
// newest version held in locked.
func (p *Plugin) startNodeClaims(ctx context.Context, locked *poolLocks) *earlyList {
	ctx, cancel := context.WithCancel(ctx)
	l := &earlyList{states: locked.states, cancel: cancel, done: make(chan struct{})}
	var versions []nodestate.PoolState
	for _, st := range locked.states {
		versions = append(versions, st)
	}
	go func() {
		defer close(l.done)
		l.claims, l.err = p.Cluster.NodeClaims(ctx, p.Node, nodestate.NewestResourceVersion(versions...))
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

// trusted reports whether every version the list may have asked for was
// remembered for the pool of the same UID as the one read now. One that
// was not comes from a cluster rebuilt under the node: the API server may
// never reach it, and the list would wait for it in vain.
func (l *earlyList) trusted(pools map[string]*ipamv1alpha1.IPPool) bool {
	for name, st := range l.states {
		if st.ResourceVersion == "" {
			continue
		}
		if pool := pools[name]; pool == nil || !st.Trusted(string(pool.UID)) {
			return false
		}
	}
	return true
}

// nodeClaims returns the node's claims, not older than the node's last
// write in the chosen pools (trustedVersion): the early list when there is
// one and it could be trusted or had already answered, else a new list.
func (p *Plugin) nodeClaims(ctx context.Context, early *earlyList, pools map[string]*ipamv1alpha1.IPPool, trustedVersion string) ([]ipamv1alpha1.IPClaim, error) {
	if early != nil {
		trusted := early.trusted(pools)
		if !trusted {
			early.cancel()
		}
		<-early.done
		if early.err == nil || trusted {
			return early.claims, early.err
		}
	}
	return p.Cluster.NodeClaims(ctx, p.Node, trustedVersion)
}
