package plugin

import (
	"context"
	"errors"

	"github.com/containernetworking/cni/pkg/skel"

	"github.com/ipkeeper/ipkeeper/api/ipspace"
	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
	"github.com/ipkeeper/ipkeeper/cni/allocator"
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

// interfaceClaims returns the Address claims of the container interface:
// read by name when prevResult names them all, else listed.
func (p *Plugin) interfaceClaims(ctx context.Context, args *skel.CmdArgs) ([]ipamv1alpha1.IPClaim, error) {
	if claims, ok := p.claimsOfPrevResult(ctx, args); ok {
		return claims, nil
	}
	return p.listInterfaceClaims(ctx, args)
}

// claimsOfPrevResult reads by name the claims of the addresses of
// prevResult, which the runtime passes back to DEL from what ADD returned:
// a read by name costs the API server the same whatever the cluster holds,
// while a list by field costs it a look at every claim. It reports whether
// every address had its claim, held by this interface; when one did not
// (no prevResult, a DEL repeated after a partial release, an address that
// another plugin of the chain added), or a read failed, the list decides.
func (p *Plugin) claimsOfPrevResult(ctx context.Context, args *skel.CmdArgs) ([]ipamv1alpha1.IPClaim, bool) {
	if p.Config.PrevResult == nil {
		return nil, false
	}
	addrs, err := prevAddresses(p.Config.PrevResult)
	if err != nil || len(addrs) == 0 {
		return nil, false
	}
	owner := ipamv1alpha1.ClaimOwner{ContainerID: args.ContainerID, Interface: args.IfName}
	claims := make([]ipamv1alpha1.IPClaim, 0, len(addrs))
	for _, addr := range addrs {
		claim, err := p.Cluster.Get(ctx, ipspace.AddressClaimName(addr))
		if err != nil || !allocator.SameOwner(claim, owner) {
			return nil, false
		}
		claims = append(claims, *claim)
	}
	return claims, true
}

// listInterfaceClaims lists the Address claims of the container interface.
// The list is not older than the node's last write, which holds every
// claim the node made for the container as long as the node's state was
// saved; when it finds none, a consistent list makes sure, since a claim
// missed here would leak.
func (p *Plugin) listInterfaceClaims(ctx context.Context, args *skel.CmdArgs) ([]ipamv1alpha1.IPClaim, error) {
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
