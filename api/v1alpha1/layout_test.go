package v1alpha1

import (
	"net/netip"
	"strings"
	"testing"
)

func TestLayoutErrors(t *testing.T) {
	five := int32(5)
	tests := []struct {
		spec IPPoolSpec
		want string
	}{
		{spec: IPPoolSpec{CIDR: "10.0.0.1/24"}, want: `spec.cidr: Invalid value: "10.0.0.1/24": 10.0.0.1/24 is not in canonical form: write 10.0.0.0/24`},
		{spec: IPPoolSpec{CIDR: "10.0.0.0/24", Exclude: []string{"nope"}}, want: `spec.exclude[0]: Invalid value: "nope": "nope" is not an IPv4 or IPv6 address`},
		{spec: IPPoolSpec{CIDR: "10.0.0.0/24", Exclude: []string{"10.0.1.0/24"}}, want: "10.0.1.0/24 reaches outside the pool's 10.0.0.0/24"},
		{spec: IPPoolSpec{CIDR: "10.0.0.0/24", Gateway: "x"}, want: `spec.gateway: Invalid value: "x": "x" is not`},
		{spec: IPPoolSpec{CIDR: "10.0.0.0/24", BlockSize: &five}, want: "blocks of 10.0.0.0/24 must be /24 to /32"},
	}
	for _, tt := range tests {
		if _, err := tt.spec.Layout(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Layout(%+v) error = %v, want it to contain %q", tt.spec, err, tt.want)
		}
	}
}

func TestEffectiveBlockSize(t *testing.T) {
	tests := map[string]int{"10.0.0.0/8": 24, "10.0.0.0/28": 28, "fd00::/64": 120, "fd00::/124": 124}
	for cidr, want := range tests {
		spec := IPPoolSpec{CIDR: cidr}
		if got := spec.EffectiveBlockSize(netip.MustParsePrefix(cidr)); got != want {
			t.Errorf("EffectiveBlockSize(%s) = %d, want %d", cidr, got, want)
		}
	}
}
