package v1alpha1

import (
	"net/netip"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/ipkeeper/ipkeeper/api/ipspace"
)

// Layout parses the spec into its usable addresses and blocks. It fails on a
// spec that Validate refuses (the admission webhook would have), so that
// callers never guess at a broken pool.
func (s *IPPoolSpec) Layout() (ipspace.Layout, error) {
	prefix, errs := s.Validate(field.NewPath("spec"))
	if len(errs) > 0 {
		return ipspace.Layout{}, errs.ToAggregate()
	}
	exclude := make([]ipspace.Range, 0, len(s.Exclude))
	for _, e := range s.Exclude {
		r, _ := ipspace.ParseRange(e) // Validate has parsed it
		exclude = append(exclude, r)
	}
	gateway, _ := ipspace.ParseAddr(s.Gateway) // invalid (and so ignored) when unset
	return ipspace.NewLayout(prefix, exclude, gateway, s.EffectiveBlockSize(prefix)), nil
}

// EffectiveBlockSize returns spec.blockSize, or the default for the family of
// prefix, never shorter than the prefix itself.
func (s *IPPoolSpec) EffectiveBlockSize(prefix netip.Prefix) int {
	if s.BlockSize != nil {
		return int(*s.BlockSize)
	}
	return ipspace.DefaultBlockSize(prefix)
}
