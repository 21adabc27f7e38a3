package allocator

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"k8s.io/utils/ptr"

	"github.com/ipkeeper/ipkeeper/api/ipspace"
	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
)

func layoutOf(t *testing.T, spec ipamv1alpha1.IPPoolSpec) ipspace.Layout {
	t.Helper()
	l, err := spec.Layout()
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestRoundRobin(t *testing.T) {
	layout := layoutOf(t, ipamv1alpha1.IPPoolSpec{CIDR: "10.0.0.0/24", BlockSize: ptr.To[int32](29), Gateway: "10.0.0.1", Exclude: []string{"10.0.0.12"}})
	blocks := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/29"), netip.MustParsePrefix("10.0.0.8/29")}
	held := map[netip.Addr]bool{netip.MustParseAddr("10.0.0.3"): true, netip.MustParseAddr("10.0.0.10"): true}
	tests := []struct {
		cursor string
		want   string
	}{
		{cursor: "", want: "10.0.0.2 10.0.0.4 10.0.0.5 10.0.0.6 10.0.0.7 10.0.0.8 10.0.0.9 10.0.0.11 10.0.0.13 10.0.0.14 10.0.0.15"},
		{cursor: "10.0.0.9", want: "10.0.0.11 10.0.0.13 10.0.0.14 10.0.0.15 10.0.0.2 10.0.0.4 10.0.0.5 10.0.0.6 10.0.0.7 10.0.0.8 10.0.0.9"},
		{cursor: "10.0.0.15", want: "10.0.0.2 10.0.0.4 10.0.0.5 10.0.0.6 10.0.0.7 10.0.0.8 10.0.0.9 10.0.0.11 10.0.0.13 10.0.0.14 10.0.0.15"},
		{cursor: "10.0.0.5", want: "10.0.0.6 10.0.0.7 10.0.0.8 10.0.0.9 10.0.0.11 10.0.0.13 10.0.0.14 10.0.0.15 10.0.0.2 10.0.0.4 10.0.0.5"},
		{cursor: "10.0.9.9", want: "10.0.0.2 10.0.0.4 10.0.0.5 10.0.0.6 10.0.0.7 10.0.0.8 10.0.0.9 10.0.0.11 10.0.0.13 10.0.0.14 10.0.0.15"},
	}
	for _, tt := range tests {
		var cursor netip.Addr
		if tt.cursor != "" {
			cursor = netip.MustParseAddr(tt.cursor)
		}
		var got []string
		for a := range roundRobin(layout, blocks, held, cursor) {
			got = append(got, a.String())
		}
		if strings.Join(got, " ") != tt.want {
			t.Errorf("cursor %q: got %v\nwant %s", tt.cursor, got, tt.want)
		}
	}
}

func TestRoundRobinStopsEarly(t *testing.T) {
	layout := layoutOf(t, ipamv1alpha1.IPPoolSpec{CIDR: "fd00::/64"})
	blocks := []netip.Prefix{netip.MustParsePrefix("fd00::/120"), netip.MustParsePrefix("fd00::100/120")}
	var got []netip.Addr
	for a := range roundRobin(layout, blocks, nil, netip.MustParseAddr("fd00::ff")) {
		got = append(got, a)
		if len(got) == 2 {
			break
		}
	}
	if want := []netip.Addr{netip.MustParseAddr("fd00::100"), netip.MustParseAddr("fd00::101")}; !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}
