package webhooks

import (
	"fmt"
	"net/netip"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
)

// validatePoolSpec checks each field of a spec on its own and returns the
// parsed prefix.
func validatePoolSpec(spec *field.Path, s *ipamv1alpha1.IPPoolSpec) (netip.Prefix, field.ErrorList) {
	prefix, err := ipamv1alpha1.ParsePrefix(s.CIDR)
	if err != nil {
		return prefix, field.ErrorList{invalid(spec.Child("cidr"), s.CIDR, err.Error(), reasonInvalidSpec)}
	}
	var errs field.ErrorList
	if s.BlockSize != nil {
		if bits := int(*s.BlockSize); bits < prefix.Bits() || bits > prefix.Addr().BitLen() {
			errs = append(errs, invalid(spec.Child("blockSize"), bits,
				fmt.Sprintf("blocks of %s must be /%d to /%d: pick a prefix length no shorter than the pool's own",
					prefix, prefix.Bits(), prefix.Addr().BitLen()), reasonInvalidSpec))
		}
	}
	errs = append(errs, validateExclusions(spec.Child("exclude"), prefix, s.Exclude)...)
	if s.Gateway != "" {
		errs = append(errs, validateGateway(spec.Child("gateway"), prefix, s.Gateway)...)
	}
	errs = append(errs, validateRoutes(spec.Child("routes"), prefix, s.Routes)...)
	return prefix, errs
}

func validateExclusions(path *field.Path, prefix netip.Prefix, exclude []string) field.ErrorList {
	var errs field.ErrorList
	for i, e := range exclude {
		r, err := ipamv1alpha1.ParseRange(e)
		switch {
		case err != nil:
			errs = append(errs, invalid(path.Index(i), e, exclusionHint(err), reasonInvalidSpec))
		case r.First.BitLen() != prefix.Addr().BitLen():
			errs = append(errs, invalid(path.Index(i), e, fmt.Sprintf("%s is %s but the pool %s is %s: exclude only addresses of the pool",
				e, family(r.First), prefix, family(prefix.Addr())), reasonInvalidSpec))
		case !prefix.Contains(r.First) || !prefix.Contains(r.Last):
			errs = append(errs, invalid(path.Index(i), e, fmt.Sprintf("%s reaches outside the pool's %s: exclude only addresses inside spec.cidr",
				e, prefix), reasonInvalidSpec))
		}
	}
	return errs
}

// exclusionHint adds to a parse error how to write an exclusion, unless
// the error already says it.
func exclusionHint(err error) string {
	if strings.Contains(err.Error(), ": write ") {
		return err.Error()
	}
	return err.Error() + ": write an address (10.32.0.10), a prefix (10.32.0.0/28) or a range (10.32.0.10-10.32.0.20)"
}

func validateGateway(path *field.Path, prefix netip.Prefix, gateway string) field.ErrorList {
	a, err := ipamv1alpha1.ParseAddr(gateway)
	switch {
	case err != nil:
		return field.ErrorList{invalid(path, gateway, err.Error(), reasonInvalidSpec)}
	case !prefix.Contains(a):
		return field.ErrorList{invalid(path, gateway, fmt.Sprintf("the gateway %s lies outside the pool's %s: pick an address inside spec.cidr",
			a, prefix), reasonInvalidSpec)}
	}
	return nil
}

// validateRoutes checks that routes are of the pool's family: the CNI
// runtime installs them with the pool's addresses.
func validateRoutes(path *field.Path, prefix netip.Prefix, routes []ipamv1alpha1.Route) field.ErrorList {
	var errs field.ErrorList
	fam := family(prefix.Addr())
	for i, r := range routes {
		dst, err := ipamv1alpha1.ParsePrefix(r.Dst)
		switch {
		case err != nil:
			errs = append(errs, invalid(path.Index(i).Child("dst"), r.Dst, err.Error(), reasonInvalidSpec))
		case family(dst.Addr()) != fam:
			errs = append(errs, invalid(path.Index(i).Child("dst"), r.Dst, fmt.Sprintf("%s is %s but the pool %s is %s: give %s destinations, or put this route on a pool of its family",
				dst, family(dst.Addr()), prefix, fam, fam), reasonInvalidSpec))
		}
		if r.GW == "" {
			continue
		}
		gw, err := ipamv1alpha1.ParseAddr(r.GW)
		switch {
		case err != nil:
			errs = append(errs, invalid(path.Index(i).Child("gw"), r.GW, err.Error(), reasonInvalidSpec))
		case family(gw) != fam:
			errs = append(errs, invalid(path.Index(i).Child("gw"), r.GW, fmt.Sprintf("%s is %s but the pool %s is %s: give an %s next hop, or leave gw empty for the pool's gateway",
				gw, family(gw), prefix, fam, fam), reasonInvalidSpec))
		}
	}
	return errs
}
