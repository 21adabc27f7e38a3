package plugin

import (
	"context"
	"errors"

	"github.com/containernetworking/cni/pkg/skel"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
	"github.com/ipkeeper/ipkeeper/cni/nodestate"
)

// Del releases the claims of the container interface. Claims already gone
// are success; an API server that cannot be reached is an error, so that
// the runtime retries instead of leaking the address. The list of the
// container's claims is not older than the node's last write, which
// includes every claim this node made for the container.
func (p *Plugin) Del(ctx context.Context, args *skel.CmdArgs) error {
	var newest string
	if state, err := p.stateDir(); err == nil {
		newest = nodestate.NewestResourceVersion(state.Pools()...)
	}
	claims, err := p.API.ContainerClaims(ctx, args.ContainerID, newest)
	if err != nil {
		return asCNIError("find the claims to release", err)
	}
	var errs []error
	for i := range claims {
		claim := &claims[i]
		if claim.Spec.Type != ipamv1alpha1.ClaimTypeAddress || claim.Spec.Owner == nil || claim.Spec.Owner.Interface != args.IfName {
			continue
		}
		if err := p.API.Delete(ctx, claim); err != nil {
			errs = append(errs, err)
		}
	}
	return asCNIError("release claims", errors.Join(errs...))
}
