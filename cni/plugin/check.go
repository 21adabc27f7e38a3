package plugin

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"

	"github.com/ipkeeper/ipkeeper/api/ipspace"
	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
	"github.com/ipkeeper/ipkeeper/cni/allocator"
	"github.com/ipkeeper/ipkeeper/cni/cnierr"
)

// Check verifies that every address of prevResult is still claimed, by this
// container interface.
func (p *Plugin) Check(ctx context.Context, args *skel.CmdArgs) error {
	if p.Config.PrevResult == nil {
		return cnierr.BadConfig(errors.New("CHECK needs prevResult, the result of the ADD"))
	}
	addrs, err := prevAddresses(p.Config.PrevResult)
	if err != nil {
		return cnierr.BadConfig(err)
	}
	owner := ipamv1alpha1.ClaimOwner{ContainerID: args.ContainerID, Interface: args.IfName}
	for _, addr := range addrs {
		if err := p.checkClaim(ctx, addr, owner); err != nil {
			return err
		}
	}
	return nil
}

// prevAddresses returns the addresses of prevResult.
func prevAddresses(prevResult types.Result) ([]netip.Addr, error) {
	prev, err := current.NewResultFromResult(prevResult)
	if err != nil {
		return nil, fmt.Errorf("prevResult: %w", err)
	}
	addrs := make([]netip.Addr, 0, len(prev.IPs))
	for _, ip := range prev.IPs {
		addr, ok := netip.AddrFromSlice(ip.Address.IP)
		if !ok {
			return nil, fmt.Errorf("prevResult holds %q, not an address", ip.Address.String())
		}
		addrs = append(addrs, addr.Unmap())
	}
	return addrs, nil
}

func (p *Plugin) checkClaim(ctx context.Context, addr netip.Addr, owner ipamv1alpha1.ClaimOwner) error {
	claim, err := p.Cluster.Get(ctx, ipspace.AddressClaimName(addr))
	if errors.Is(err, allocator.ErrNotFound) {
		return cnierr.New(cnierr.ClaimMismatch, "address %s of container %s (%s) is not claimed: the claim was released; recreate the pod",
			addr, owner.ContainerID, owner.Interface)
	}
	if err != nil {
		return asCNIError("read the claim of "+addr.String(), err)
	}
	if !allocator.SameOwner(claim, owner) {
		return cnierr.New(cnierr.ClaimMismatch, "address %s of container %s (%s) is held by %s", addr, owner.ContainerID, owner.Interface, claim.Holder())
	}
	return nil
}
