package poolchoice

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/ipkeeper/ipkeeper/api/ipspace"
	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
	"github.com/ipkeeper/ipkeeper/cni/ipamerr"
)

// everyNetworkAdvice is what to do when the plain ips annotation, which
// asks on every network of the pod, asks for an address that suits only
// one of them.
const everyNetworkAdvice = "the annotation asks for it on every network of the pod; ask for it on one network only, with " +
	ipamv1alpha1.AnnotationIPs + ".<network>"

// Static is an exact address asked for.
type Static struct {
	Addr netip.Addr
	// Bits is the prefix length written with the address (Multus passes
	// 10.1.2.3/24), or -1 when it came bare.
	Bits int
}

// String returns the address as it was asked for.
func (s Static) String() string {
	if s.Bits < 0 {
		return s.Addr.String()
	}
	return fmt.Sprintf("%s/%d", s.Addr, s.Bits)
}

// Statics are the exact addresses asked for on one network, from one
// source.
type Statics struct {
	Addrs []Static
	// Source names where they were asked for: "runtimeConfig.ips",
	// "args.cni.ips", "annotation ipam.ipkeeper.dev/ips.<network>" or
	// "annotation ipam.ipkeeper.dev/ips".
	Source string
	// Network is the CNI network they are for.
	Network string
	// EveryNetwork is set when Source is the plain annotation, which asks
	// on every network of the pod; severalNetworks when the pod is seen to
	// have more than one.
	EveryNetwork, severalNetworks bool
}

// RequestedAddresses returns the exact addresses asked for on network,
// from the first source that asks: the runtime's (runtimeIPs, from
// runtimeSource: runtimeConfig.ips or args.cni.ips), the pod's
// ipam.ipkeeper.dev/ips.<network>, then its ipam.ipkeeper.dev/ips. The
// first source wins whole; at most one address per family.
func RequestedAddresses(network string, runtimeIPs []string, runtimeSource string, podAnnotations map[string]string) (Statics, error) {
	if len(runtimeIPs) > 0 {
		return parseStatics(Statics{Source: runtimeSource, Network: network}, runtimeIPs)
	}
	keys := []string{ipamv1alpha1.AnnotationIPs}
	if network != "" {
		keys = []string{ipamv1alpha1.NetworkIPsAnnotation(network), ipamv1alpha1.AnnotationIPs}
	}
	for _, key := range keys {
		value, ok := podAnnotations[key]
		if !ok {
			continue
		}
		statics := Statics{Source: "annotation " + key, Network: network}
		if key == ipamv1alpha1.AnnotationIPs {
			statics.EveryNetwork = true
			statics.severalNetworks = len(listedNetworks(podAnnotations)) > 0
		}
		entries := splitList(value)
		if len(entries) == 0 {
			return Statics{}, ipamerr.New(ErrBadAnnotation, "%s is empty: list addresses separated by commas, or remove it", statics.Source)
		}
		return parseStatics(statics, entries)
	}
	return Statics{Network: network}, nil
}

// parseStatics parses entries, each an address or address/prefixlen, into
// statics.
func parseStatics(statics Statics, entries []string) (Statics, error) {
	for _, entry := range entries {
		s, err := parseStatic(strings.TrimSpace(entry))
		if err != nil {
			return Statics{}, ipamerr.New(ErrBadAnnotation, "%s: %v", statics.Source, err)
		}
		for _, prev := range statics.Addrs {
			if prev.Addr.Is4() == s.Addr.Is4() {
				return Statics{}, ipamerr.New(ErrBadAnnotation, "%s asks for %s and %s: ask for at most one address per family",
					statics.Source, prev, s)
			}
		}
		statics.Addrs = append(statics.Addrs, s)
	}
	return statics, nil
}

func parseStatic(entry string) (Static, error) {
	addr, bits, hasBits := strings.Cut(entry, "/")
	a, err := ipspace.ParseAddr(addr)
	if !hasBits {
		return Static{Addr: a, Bits: -1}, err
	}
	p, perr := netip.ParsePrefix(entry)
	if err != nil || perr != nil || bits == "" {
		return Static{}, fmt.Errorf("%q is not an address such as 10.32.0.5 or 10.32.0.5/24", entry)
	}
	return Static{Addr: a, Bits: p.Bits()}, nil
}

// Pin narrows, for each address of statics, the family of the address to
// the pool that holds it. poolSource names where the pools came from, for
// the messages.
func Pin(families []Family, statics Statics, poolSource string) ([]Family, error) {
	for _, s := range statics.Addrs {
		var err error
		if families, err = pin(families, s, statics, poolSource); err != nil {
			return nil, err
		}
	}
	return families, nil
}

func pin(families []Family, s Static, statics Statics, poolSource string) ([]Family, error) {
	i := familyIndex(families, s.Addr.Is4())
	if i < 0 {
		return nil, ipamerr.New(ErrBadAnnotation, "%s asks for %s address %s, but the pools chosen by the %s (%s) have no %s pool: ask for an address of their family, or choose a pool of its family too",
			statics.Source, ipspace.Family(s.Addr), s, poolSource, poolNames(families), ipspace.Family(s.Addr))
	}
	f := &families[i]
	for _, pool := range f.Pools {
		prefix, err := ipspace.ParsePrefix(pool.Spec.CIDR)
		if err != nil || !prefix.Contains(s.Addr) {
			continue
		}
		if s.Bits >= 0 && s.Bits != prefix.Bits() {
			return nil, ipamerr.New(ErrBadAnnotation, "%s asks for %s, but pool %s is %s: give the pool's prefix length, %s/%d, or the bare address",
				statics.Source, s, pool.Name, prefix, s.Addr, prefix.Bits())
		}
		f.Pools, f.Requested, f.RequestedBy = []*ipamv1alpha1.IPPool{pool}, s.Addr, statics.Source
		if statics.EveryNetwork {
			f.SamePodAdvice = everyNetworkAdvice
		}
		return families, nil
	}
	for _, skipped := range f.skipped {
		if skipped.prefix.Contains(s.Addr) {
			var reason *ipamerr.Error
			kind := ErrPoolUnavailable
			if errors.As(skipped.reason, &reason) {
				kind = reason.Kind
			}
			return nil, ipamerr.New(kind, "%s asks for %s, in pool %s: %v", statics.Source, s, skipped.pool.Name, skipped.reason)
		}
	}
	if statics.EveryNetwork && statics.severalNetworks {
		return nil, ipamerr.New(ErrBadAnnotation, "address %s asked for in %s lies in none of the pools chosen by the %s for network %s: %s",
			s.Addr, statics.Source, poolSource, statics.Network, everyNetworkAdvice)
	}
	return nil, ipamerr.New(ErrBadAnnotation, "address %s asked for in %s lies in none of the pools chosen by the %s: ask for an address of one of them",
		s.Addr, statics.Source, poolSource)
}

func familyIndex(families []Family, v4 bool) int {
	for i, f := range families {
		if f.IPv4 == v4 {
			return i
		}
	}
	return -1
}

// poolNames lists the usable pools of families, for messages.
func poolNames(families []Family) string {
	var names []string
	for _, f := range families {
		for _, p := range f.Pools {
			names = append(names, p.Name)
		}
	}
	return strings.Join(names, ", ")
}
