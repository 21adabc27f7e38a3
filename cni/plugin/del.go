package plugin

import (
	"context"
	"errors"
	"net/netip"
	"sync"

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
// those of prevResult's addresses, read by name, when the runtime passed
// prevResult; else those listed by container.
func (p *Plugin) interfaceClaims(ctx context.Context, args *skel.CmdArgs) ([]ipamv1alpha1.IPClaim, error) {
	if p.Config.PrevResult != nil {
		if addrs, err := prevAddresses(p.Config.PrevResult); err == nil && len(addrs) > 0 {
			return p.claimsByName(ctx, args, addrs)
		}
	}
	return p.listInterfaceClaims(ctx, args)
}

// claimsByName reads, in parallel and by name, the claims of addrs, the
// addresses of prevResult, which the runtime passes back to DEL from what
// ADD returned: a read by name costs the API server the same whatever the
// cluster holds, while a list by field costs it a look at every claim. A
// claim that is gone, or held by another container interface, was already
// released (a DEL repeated after a partial release; an address another
// plugin of the chain added). An address of the interface that prevResult
// left out is not found here: the runtime's CNI GC or the operator's
// garbage collector releases its claim.
func (p *Plugin) claimsByName(ctx context.Context, args *skel.CmdArgs, addrs []netip.Addr) ([]ipamv1alpha1.IPClaim, error) {
	owner := ipamv1alpha1.ClaimOwner{ContainerID: args.ContainerID, Interface: args.IfName}
	found := make([]*ipamv1alpha1.IPClaim, len(addrs))
	errs := make([]error, len(addrs))
	var wg sync.WaitGroup
	for i, addr := range addrs {
		wg.Go(func() {
			claim, err := p.Cluster.Get(ctx, ipspace.AddressClaimName(addr))
			switch {
			case errors.Is(err, allocator.ErrNotFound):
			case err != nil:
				errs[i] = err
			case allocator.SameOwner(claim, owner):
				found[i] = claim
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	var claims []ipamv1alpha1.IPClaim
	for _, claim := range found {
		if claim != nil {
			claims = append(claims, *claim)
		}
	}
	return claims, nil
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
