package crd

import (
	"context"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/utils/ptr"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
	"github.com/ipkeeper/ipkeeper/test/harness"
)

// expectInvalid fails unless err is an Invalid error containing want.
func expectInvalid(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("the API server accepted the object; want it refused with %q", want)
	}
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), want) {
		t.Fatalf("error = %v; want Invalid containing %q", err, want)
	}
}

func TestPoolCreateRules(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*ipamv1alpha1.IPPool)
		want   string
	}{
		{name: "valid IPv4", mutate: func(*ipamv1alpha1.IPPool) {}},
		{name: "valid IPv6 with default block size", mutate: func(p *ipamv1alpha1.IPPool) {
			p.Spec = ipamv1alpha1.IPPoolSpec{CIDR: "fd00:10:32::/64", Exclude: []string{"fd00:10:32::1-fd00:10:32::ff"}, Gateway: "fd00:10:32::1"}
		}},
		{name: "short IPv6 prefix", mutate: func(p *ipamv1alpha1.IPPool) {
			p.Spec = ipamv1alpha1.IPPoolSpec{CIDR: "fd00::/8"}
		}},
		{name: "host bits set", mutate: func(p *ipamv1alpha1.IPPool) { p.Spec.CIDR = "10.32.0.1/12" },
			want: "cidr must be in canonical form"},
		{name: "upper-case IPv6", mutate: func(p *ipamv1alpha1.IPPool) { p.Spec.CIDR, p.Spec.BlockSize = "FD00::/64", nil },
			want: "cidr must be in canonical form"},
		{name: "long IPv6 spelling", mutate: func(p *ipamv1alpha1.IPPool) { p.Spec.CIDR, p.Spec.BlockSize = "fd00:0::/64", nil },
			want: "cidr must be in canonical form"},
		{name: "address without prefix length", mutate: func(p *ipamv1alpha1.IPPool) { p.Spec.CIDR = "10.32.0.0" },
			want: "cidr must be an IPv4 or IPv6 prefix"},
		{name: "IPv4-mapped IPv6", mutate: func(p *ipamv1alpha1.IPPool) { p.Spec.CIDR, p.Spec.BlockSize = "::ffff:10.0.0.0/104", nil },
			want: "cidr must be an IPv4 or IPv6 prefix"},
		{name: "block shorter than the pool", mutate: func(p *ipamv1alpha1.IPPool) { p.Spec.BlockSize = ptr.To[int32](8) },
			want: "blockSize must lie between the prefix length of cidr and 32"},
		{name: "block longer than an IPv4 address", mutate: func(p *ipamv1alpha1.IPPool) { p.Spec.BlockSize = ptr.To[int32](33) },
			want: "blockSize must lie between the prefix length of cidr and 32"},
		{name: "malformed exclusion", mutate: func(p *ipamv1alpha1.IPPool) { p.Spec.Exclude = []string{"10.32.0.300"} },
			want: "each exclusion must be an address, a prefix, or a range"},
		{name: "malformed range", mutate: func(p *ipamv1alpha1.IPPool) { p.Spec.Exclude = []string{"10.32.0.1-10.32.0.2-10.32.0.3"} },
			want: "each exclusion must be an address, a prefix, or a range"},
		{name: "malformed gateway", mutate: func(p *ipamv1alpha1.IPPool) { p.Spec.Gateway = "10.32.0" },
			want: "gateway must be an IPv4 or IPv6 address"},
		{name: "gateway outside the pool", mutate: func(p *ipamv1alpha1.IPPool) { p.Spec.Gateway = "192.168.0.1" },
			want: "gateway must be an address inside cidr"},
		{name: "malformed route destination", mutate: func(p *ipamv1alpha1.IPPool) { p.Spec.Routes[0].Dst = "default" },
			want: "dst must be a prefix"},
		{name: "malformed route next hop", mutate: func(p *ipamv1alpha1.IPPool) { p.Spec.Routes[1].GW = "router" },
			want: "gw must be an IPv4 or IPv6 address"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pool := harness.FullPool("create-rules-"+string(rune('a'+i)), "10.32.0.0/12")
			tt.mutate(pool)
			err := env.Client.Create(context.Background(), pool)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("valid pool refused: %v", err)
				}
				_ = env.Client.Delete(context.Background(), pool)
				return
			}
			expectInvalid(t, err, tt.want)
		})
	}
}

func TestPoolUpdateRules(t *testing.T) {
	tests := []struct {
		name   string
		create func(*ipamv1alpha1.IPPool)
		update func(*ipamv1alpha1.IPPool)
		want   string
	}{
		{name: "exclusions may change", update: func(p *ipamv1alpha1.IPPool) { p.Spec.Exclude = []string{"10.32.5.0/24"} }},
		{name: "disabled may change", update: func(p *ipamv1alpha1.IPPool) { p.Spec.Disabled = true }},
		{name: "cidr is immutable", update: func(p *ipamv1alpha1.IPPool) { p.Spec.CIDR = "10.48.0.0/12" },
			want: "cidr is immutable"},
		{name: "blockSize is immutable", update: func(p *ipamv1alpha1.IPPool) { p.Spec.BlockSize = ptr.To[int32](26) },
			want: "blockSize is immutable"},
		{name: "blockSize cannot be set later", create: func(p *ipamv1alpha1.IPPool) { p.Spec.BlockSize = nil },
			update: func(p *ipamv1alpha1.IPPool) { p.Spec.BlockSize = ptr.To[int32](24) }, want: "blockSize is immutable"},
		{name: "blockSize cannot be removed", update: func(p *ipamv1alpha1.IPPool) { p.Spec.BlockSize = nil },
			want: "blockSize is immutable"},
	}
	ctx := context.Background()
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pool := harness.FullPool("update-rules-"+string(rune('a'+i)), "10.32.0.0/12")
			if tt.create != nil {
				tt.create(pool)
			}
			if err := env.Client.Create(ctx, pool); err != nil {
				t.Fatalf("create: %v", err)
			}
			defer func() { _ = env.Client.Delete(ctx, pool) }()
			tt.update(pool)
			err := env.Client.Update(ctx, pool)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("valid update refused: %v", err)
				}
				return
			}
			expectInvalid(t, err, tt.want)
		})
	}
}
