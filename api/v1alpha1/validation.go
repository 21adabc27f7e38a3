package v1alpha1

import (
	"fmt"
	"net/netip"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/ipkeeper/ipkeeper/api/ipspace"
)

// Validate checks each field of the spec on its own (not against other
// pools or claims) and returns the parsed prefix. spec is the path of the
// spec in the object, for the messages. The admission webhook refuses what
// it finds; Layout refuses to lay out such a spec.
func (s *IPPoolSpec) Validate(spec *field.Path) (netip.Prefix, field.ErrorList) {
	prefix, err := ipspace.ParsePrefix(s.CIDR)
	if err != nil {
		return prefix, field.ErrorList{field.Invalid(spec.Child("cidr"), s.CIDR, err.Error())}
	}
	var errs field.ErrorList
	if s.BlockSize != nil {
		if bits := int(*s.BlockSize); bits < prefix.Bits() || bits > prefix.Addr().BitLen() {
			errs = append(errs, field.Invalid(spec.Child("blockSize"), bits,
				fmt.Sprintf("blocks of %s must be /%d to /%d: pick a prefix length no shorter than the pool's own",
					prefix, prefix.Bits(), prefix.Addr().BitLen())))
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
		r, err := ipspace.ParseRange(e)
		switch {
		case err != nil:
			errs = append(errs, field.Invalid(path.Index(i), e, exclusionHint(err)))
		case r.First.BitLen() != prefix.Addr().BitLen():
			errs = append(errs, field.Invalid(path.Index(i), e, fmt.Sprintf("%s is %s but the pool %s is %s: exclude only addresses of the pool",
				e, ipspace.Family(r.First), prefix, ipspace.Family(prefix.Addr()))))
		case !prefix.Contains(r.First) || !prefix.Contains(r.Last):
			errs = append(errs, field.Invalid(path.Index(i), e, fmt.Sprintf("%s reaches outside the pool's %s: exclude only addresses inside spec.cidr",
				e, prefix)))
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
	a, err := ipspace.ParseAddr(gateway)
	switch {
	case err != nil:
		return field.ErrorList{field.Invalid(path, gateway, err.Error())}
	case !prefix.Contains(a):
		return field.ErrorList{field.Invalid(path, gateway, fmt.Sprintf("the gateway %s lies outside the pool's %s: pick an address inside spec.cidr",
			a, prefix))}
	}
	return nil
}

// validateRoutes checks that routes are of the pool's family: the CNI
// runtime installs them with the pool's addresses.
func validateRoutes(path *field.Path, prefix netip.Prefix, routes []Route) field.ErrorList {
	var errs field.ErrorList
	fam := ipspace.Family(prefix.Addr())
	for i, r := range routes {
		dst, err := ipspace.ParsePrefix(r.Dst)
		switch {
		case err != nil:
			errs = append(errs, field.Invalid(path.Index(i).Child("dst"), r.Dst, err.Error()))
		case ipspace.Family(dst.Addr()) != fam:
			errs = append(errs, field.Invalid(path.Index(i).Child("dst"), r.Dst, fmt.Sprintf("%s is %s but the pool %s is %s: give %s destinations, or put this route on a pool of its family",
				dst, ipspace.Family(dst.Addr()), prefix, fam, fam)))
		}
		if r.GW == "" {
			continue
		}
		gw, err := ipspace.ParseAddr(r.GW)
		switch {
		case err != nil:
			errs = append(errs, field.Invalid(path.Index(i).Child("gw"), r.GW, err.Error()))
		case ipspace.Family(gw) != fam:
			errs = append(errs, field.Invalid(path.Index(i).Child("gw"), r.GW, fmt.Sprintf("%s is %s but the pool %s is %s: give an %s next hop, or leave gw empty for the pool's gateway",
				gw, ipspace.Family(gw), prefix, fam, fam)))
		}
	}
	return errs
}
