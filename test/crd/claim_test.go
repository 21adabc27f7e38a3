package crd

import (
	"context"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/ipkeeper/ipkeeper/api/ipspace"
	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
	"github.com/ipkeeper/ipkeeper/test/harness"
)

// namedAddressClaim is pod default/web-0's claim of address on node-a,
// unlabelled and under name, whatever address it holds: the CRD judges the
// pair.
func namedAddressClaim(name, address string) *ipamv1alpha1.IPClaim {
	c := harness.AddressClaim("default-v4", "node-a", address, 0, harness.PodOwner(harness.WebPod(), "c0ffee"))
	c.Name, c.Labels = name, nil
	return c
}

// namedBlockClaim is node-a's claim of block cidr, unlabelled and under
// name.
func namedBlockClaim(name, cidr string) *ipamv1alpha1.IPClaim {
	c := harness.BlockClaim("default-v4", "node-a", cidr)
	c.Name, c.Labels = name, nil
	return c
}

func TestClaimCreateRules(t *testing.T) {
	const (
		addressRule = "the name of an Address claim must be its address"
		blockRule   = "the name of a Block claim must be its first address and prefix length"
	)
	tests := []struct {
		name  string
		claim *ipamv1alpha1.IPClaim
		want  string
	}{
		{name: "IPv4 address", claim: namedAddressClaim("10.32.1.5", "10.32.1.5")},
		{name: "IPv6 address", claim: namedAddressClaim("fd00-0000-0000-0000-0000-0000-0000-0001", "fd00::1")},
		{name: "IPv4 block", claim: namedBlockClaim("10.32.1.0-24", "10.32.1.0/24")},
		{name: "IPv6 block", claim: namedBlockClaim("fd00-0000-0000-0000-0000-0000-0000-0100-120", "fd00::100/120")},
		{name: "no owner pod outside Kubernetes", claim: func() *ipamv1alpha1.IPClaim {
			c := namedAddressClaim("10.32.1.9", "10.32.1.9")
			c.Spec.Owner = &ipamv1alpha1.ClaimOwner{ContainerID: "c0ffee", Interface: "eth0"}
			return c
		}()},

		{name: "IPv4 name of another address", claim: namedAddressClaim("10.32.1.6", "10.32.1.5"), want: addressRule},
		{name: "IPv4 address under a word", claim: namedAddressClaim("web-0", "10.32.1.5"), want: addressRule},
		{name: "IPv6 compressed name", claim: namedAddressClaim("fd00--1", "fd00::1"), want: addressRule},
		{name: "IPv6 short groups", claim: namedAddressClaim("fd00-0-0-0-0-0-0-1", "fd00::1"), want: addressRule},
		{name: "IPv6 partly expanded", claim: namedAddressClaim("fd00-0000-0000-0000-0000-0000-0000-1", "fd00::1"), want: addressRule},
		{name: "IPv6 five-digit group", claim: namedAddressClaim("fd00-0000-0000-0000-0000-0000-0000-00001", "fd00::1"), want: addressRule},
		{name: "IPv6 name of another address", claim: namedAddressClaim("fd00-0000-0000-0000-0000-0000-0000-0002", "fd00::1"), want: addressRule},
		{name: "IPv6 expanded name with dots", claim: namedAddressClaim("fd00.0000.0000.0000.0000.0000.0000.0001", "fd00::1"), want: addressRule},
		{name: "non-canonical IPv6 address", claim: namedAddressClaim("fd00-0000-0000-0000-0000-0000-0000-0001", "fd00:0::1"),
			want: "address must be in canonical form"},
		{name: "malformed address", claim: namedAddressClaim("10.32.1.256", "10.32.1.256"), want: "address must be an IPv4 or IPv6 address"},
		{name: "address with leading zeros", claim: namedAddressClaim("10.32.1.05", "10.32.1.05"), want: "address must be an IPv4 or IPv6 address"},

		{name: "IPv4 block under another name", claim: namedBlockClaim("10.32.2.0-24", "10.32.1.0/24"), want: blockRule},
		{name: "IPv4 block with a slash-less address name", claim: namedBlockClaim("10.32.1.0", "10.32.1.0/24"), want: blockRule},
		{name: "IPv6 block compressed name", claim: namedBlockClaim("fd00--100-120", "fd00::100/120"), want: blockRule},
		{name: "IPv6 block with zero-padded length", claim: namedBlockClaim("fd00-0000-0000-0000-0000-0000-0000-0100-0120", "fd00::100/120"), want: blockRule},
		{name: "IPv6 block with another length", claim: namedBlockClaim("fd00-0000-0000-0000-0000-0000-0000-0100-121", "fd00::100/120"), want: blockRule},
		{name: "unaligned block", claim: namedBlockClaim("10.32.1.1-24", "10.32.1.1/24"), want: "cidr must be in canonical form"},

		{name: "Address claim with cidr", claim: func() *ipamv1alpha1.IPClaim {
			c := namedAddressClaim("10.32.1.7", "10.32.1.7")
			c.Spec.CIDR = "10.32.1.0/24"
			return c
		}(), want: "an Address claim sets address and not cidr"},
		{name: "Address claim without address", claim: func() *ipamv1alpha1.IPClaim {
			c := namedAddressClaim("10.32.1.8", "")
			return c
		}(), want: "an Address claim sets address and not cidr"},
		{name: "Block claim with address", claim: func() *ipamv1alpha1.IPClaim {
			c := namedBlockClaim("10.32.3.0-24", "10.32.3.0/24")
			c.Spec.Address = "10.32.3.1"
			return c
		}(), want: "a Block claim sets cidr and not address"},
		{name: "Block claim with owner", claim: func() *ipamv1alpha1.IPClaim {
			c := namedBlockClaim("10.32.4.0-24", "10.32.4.0/24")
			c.Spec.Owner = &ipamv1alpha1.ClaimOwner{ContainerID: "c0ffee", Interface: "eth0"}
			return c
		}(), want: "owner is only for Address claims"},
		{name: "unknown type", claim: func() *ipamv1alpha1.IPClaim {
			c := namedAddressClaim("10.32.1.10", "10.32.1.10")
			c.Spec.Type = "Range"
			return c
		}(), want: `supported values: "Address", "Block"`},
		{name: "pod column that is not namespace/name", claim: func() *ipamv1alpha1.IPClaim {
			c := namedAddressClaim("10.32.1.11", "10.32.1.11")
			c.Spec.Owner.Pod = "web-0"
			return c
		}(), want: "pod must be namespace/name of the owner pod"},
		{name: "owner without container", claim: func() *ipamv1alpha1.IPClaim {
			c := namedAddressClaim("10.32.1.12", "10.32.1.12")
			c.Spec.Owner.ContainerID = ""
			return c
		}(), want: "spec.owner.containerID"},
	}
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := env.Client.Create(ctx, tt.claim)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("valid claim refused: %v", err)
				}
				_ = env.Client.Delete(ctx, tt.claim)
				return
			}
			expectInvalid(t, err, tt.want)
		})
	}
}

func TestClaimSpecIsImmutable(t *testing.T) {
	ctx := context.Background()
	claim := namedAddressClaim("10.32.9.1", "10.32.9.1")
	if err := env.Client.Create(ctx, claim); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = env.Client.Delete(ctx, claim) }()
	claim.Spec.Node = "node-b"
	expectInvalid(t, env.Client.Update(ctx, claim), "spec is immutable")

	claim.Spec.Node = "node-a"
	claim.Labels = map[string]string{ipamv1alpha1.LabelPool: "default-v4"}
	if err := env.Client.Update(ctx, claim); err != nil {
		t.Fatalf("a metadata-only update was refused: %v", err)
	}
}

// TestOneAddressOneClaim shows that the API server itself arbitrates: a
// second create for the same address fails whatever the claim says.
func TestOneAddressOneClaim(t *testing.T) {
	ctx := context.Background()
	for _, address := range []string{"10.32.9.2", "fd00::9:2"} {
		first := namedAddressClaim(ipspace.AddressClaimName(mustAddr(t, address)), address)
		if err := env.Client.Create(ctx, first); err != nil {
			t.Fatal(err)
		}
		second := namedAddressClaim(first.Name, address)
		second.Spec.Node, second.Spec.Owner.ContainerID = "node-b", "another"
		if err := env.Client.Create(ctx, second); !apierrors.IsAlreadyExists(err) {
			t.Fatalf("second claim for %s: error = %v, want AlreadyExists", address, err)
		}
		_ = env.Client.Delete(ctx, first)
	}
}
