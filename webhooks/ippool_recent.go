package webhooks

import (
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/ipkeeper/ipkeeper/api/ipspace"
	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
)

// recentTTL bounds how long a pool this replica admitted, and its cache has
// not shown yet, counts against new pools. It is long enough for the API
// server to store the pool (the webhook itself times out after 5s) and short
// enough that a create refused after admission (by storage or another
// admission step) blocks nothing for long.
const recentTTL = 10 * time.Second

// recentPool is a pool admitted but not yet seen in the cache.
type recentPool struct {
	cidr  netip.Prefix
	until time.Time
}

// knownPool is a pool a new pool must not overlap.
type knownPool struct {
	name     string
	cidr     netip.Prefix
	creating bool
}

// remember records an admitted pool until the cache shows it. The caller
// holds v.mu.
func (v *IPPoolValidator) remember(pool *ipamv1alpha1.IPPool) {
	prefix, err := ipspace.ParsePrefix(pool.Spec.CIDR)
	if err != nil {
		return
	}
	if v.recent == nil {
		v.recent = make(map[string]recentPool)
	}
	v.recent[pool.Name] = recentPool{cidr: prefix, until: v.clock().Add(recentTTL)}
}

// forget drops an admitted pool once the cache holds it; the cache's event
// handler calls it, so that a pool created and deleted again at once does
// not linger.
func (v *IPPoolValidator) forget(name string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	delete(v.recent, name)
}

// knownPools returns the pools in cached plus those admitted recently and
// not in cached, sorted by name. The caller holds v.mu.
func (v *IPPoolValidator) knownPools(cached []ipamv1alpha1.IPPool) []knownPool {
	pools := make([]knownPool, 0, len(cached)+len(v.recent))
	inCache := make(map[string]bool, len(cached))
	for i := range cached {
		inCache[cached[i].Name] = true
		// A pool that does not parse was stored without the webhook; the
		// controller reports it, and it holds no addresses to overlap.
		if prefix, err := ipspace.ParsePrefix(cached[i].Spec.CIDR); err == nil {
			pools = append(pools, knownPool{name: cached[i].Name, cidr: prefix})
		}
	}
	now := v.clock()
	for name, r := range v.recent {
		if inCache[name] || now.After(r.until) {
			delete(v.recent, name)
			continue
		}
		pools = append(pools, knownPool{name: name, cidr: r.cidr, creating: true})
	}
	slices.SortFunc(pools, func(a, b knownPool) int { return strings.Compare(a.name, b.name) })
	return pools
}

func (v *IPPoolValidator) clock() time.Time {
	if v.now != nil {
		return v.now()
	}
	return time.Now()
}
