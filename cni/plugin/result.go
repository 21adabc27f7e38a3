package plugin

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
)

// buildResult turns the claims of an ADD into a CNI result: each address
// with its pool's prefix length and gateway, the pools' routes, and their
// DNS settings (the first pool's domain and search list, every pool's
// nameservers).
func buildResult(cniVersion string, claims []*ipamv1alpha1.IPClaim, pools map[string]*ipamv1alpha1.IPPool) (types.Result, error) {
	result := &current.Result{CNIVersion: current.ImplementedSpecVersion}
	for _, claim := range claims {
		pool := pools[claim.Spec.Pool]
		if pool == nil {
			return nil, fmt.Errorf("claim %s belongs to pool %s, which does not exist", claim.Name, claim.Spec.Pool)
		}
		ipConfig, err := ipConfigOf(claim, pool)
		if err != nil {
			return nil, err
		}
		result.IPs = append(result.IPs, ipConfig)
		result.Routes = append(result.Routes, routesOf(pool)...)
		mergeDNS(&result.DNS, pool.Spec.DNS)
	}
	return result.GetAsVersion(cniVersion)
}

func ipConfigOf(claim *ipamv1alpha1.IPClaim, pool *ipamv1alpha1.IPPool) (*current.IPConfig, error) {
	addr, err := netip.ParseAddr(claim.Spec.Address)
	if err != nil {
		return nil, fmt.Errorf("claim %s holds %q, not an address", claim.Name, claim.Spec.Address)
	}
	prefix, err := netip.ParsePrefix(pool.Spec.CIDR)
	if err != nil {
		return nil, fmt.Errorf("pool %s has cidr %q, not a prefix", pool.Name, pool.Spec.CIDR)
	}
	cfg := &current.IPConfig{Address: net.IPNet{IP: addr.AsSlice(), Mask: net.CIDRMask(prefix.Bits(), addr.BitLen())}}
	if gw, err := netip.ParseAddr(pool.Spec.Gateway); err == nil {
		cfg.Gateway = gw.AsSlice()
	}
	return cfg, nil
}

// routesOf returns a pool's routes; a route without a next hop goes through
// the pool's gateway when it has one.
func routesOf(pool *ipamv1alpha1.IPPool) []*types.Route {
	var routes []*types.Route
	for _, r := range pool.Spec.Routes {
		dst, err := netip.ParsePrefix(r.Dst)
		if err != nil {
			continue
		}
		route := &types.Route{Dst: net.IPNet{IP: dst.Addr().AsSlice(), Mask: net.CIDRMask(dst.Bits(), dst.Addr().BitLen())}}
		gw := r.GW
		if gw == "" {
			gw = pool.Spec.Gateway
		}
		if a, err := netip.ParseAddr(gw); err == nil {
			route.GW = a.AsSlice()
		}
		routes = append(routes, route)
	}
	return routes
}

func mergeDNS(dst *types.DNS, src *ipamv1alpha1.DNS) {
	if src == nil {
		return
	}
	dst.Nameservers = append(dst.Nameservers, src.Nameservers...)
	if dst.Domain == "" {
		dst.Domain = src.Domain
	}
	if len(dst.Search) == 0 {
		dst.Search = src.Search
	}
	if len(dst.Options) == 0 {
		dst.Options = src.Options
	}
}
