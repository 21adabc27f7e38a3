package plugin

import (
	"context"
	"fmt"

	"github.com/containernetworking/cni/pkg/types"
	"k8s.io/apimachinery/pkg/api/meta"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
	"github.com/ipkeeper/ipkeeper/cni/poolchoice"
)

// Status reports whether an ADD can succeed now: the API server answers and
// every configured pool can serve this node (exists, enabled, Ready, selects
// the node) and has free addresses. Otherwise it returns CNI error 50
// (plugin not available), saying why.
func (p *Plugin) Status(ctx context.Context) error {
	if len(p.Config.IPAM.Pools) == 0 {
		if err := p.Cluster.Ping(ctx); err != nil {
			return unavailable("the API server does not answer: %v", err)
		}
		return nil
	}
	nodeLabels, err := p.nodeLabels(ctx)
	if err != nil {
		return unavailable("the API server does not answer: %v", err)
	}
	for _, name := range p.Config.IPAM.Pools {
		pool, err := p.Cluster.Pool(ctx, name)
		switch {
		case err != nil:
			return unavailable("the API server does not answer: %v", err)
		case pool == nil:
			return unavailable("pool %s does not exist", name)
		}
		if err := poolchoice.Usable(pool, p.Node, nodeLabels); err != nil {
			return unavailable("%v", err)
		}
		if meta.IsStatusConditionTrue(pool.Status.Conditions, ipamv1alpha1.PoolExhausted) {
			return unavailable("pool %s is exhausted (%d in use, %s free)", name, pool.Status.Allocated, pool.Status.Free)
		}
	}
	return nil
}

func unavailable(format string, args ...any) error {
	return types.NewError(types.ErrPluginNotAvailable, "ipkeeper cannot allocate: "+fmt.Sprintf(format, args...), "")
}
