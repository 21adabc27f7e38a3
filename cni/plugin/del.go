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
// the runtime retries instead of leaking the address.
func (p *Plugin) Del(ctx context.Context, args *skel.CmdArgs) error {
	claims, err := p.interfaceClaims(ctx, args)
	if err != nil {
		return asCNIError("find the claims to release", err)
	}
	var errs []error
	for i := range claims {
		if err := p.Cluster.Delete(ctx, &claims[i]); err != nil {
			errs = append(errs, err)
		}
	}
	return asCNIError("release claims", errors.Join(errs...))
}

// interfaceClaims lists the Address claims of the container interface. The
// list is not older than the node's last write, which holds every claim the
// node made for the container as long as the node's state was saved; when
// it finds none, a consistent list makes sure, since a claim missed here
// would leak.
func (p *Plugin) interfaceClaims(ctx context.Context, args *skel.CmdArgs) ([]ipamv1alpha1.IPClaim, error) {
	var newest string
	state, stateErr := p.stateDir()
	if stateErr == nil {
		newest = nodestate.NewestResourceVersion(state.Pools()...)
	}
	claims, err := p.Cluster.ContainerClaims(ctx, args.ContainerID, newest)
	if err == nil && newest != "" && len(ofInterface(claims, args.IfName)) == 0 {
		claims, err = p.Cluster.ContainerClaims(ctx, args.ContainerID, "")
	}
	if stateErr == nil {
		forgetUnreached(state, p.Cluster.Reached())
	}
	return ofInterface(claims, args.IfName), err
}

// ofInterface keeps the Address claims of one interface.
func ofInterface(claims []ipamv1alpha1.IPClaim, ifName string) []ipamv1alpha1.IPClaim {
	var out []ipamv1alpha1.IPClaim
	for _, c := range claims {
		if c.Spec.Type == ipamv1alpha1.ClaimTypeAddress && c.Spec.Owner != nil && c.Spec.Owner.Interface == ifName {
			out = append(out, c)
		}
	}
	return out
}
