package plugin

import (
	"encoding/json"
	"reflect"
	"testing"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
	"github.com/ipkeeper/ipkeeper/cni/ipamtest"
)

func TestBuildResult(t *testing.T) {
	v4 := ipamtest.ReadyPool("v4", ipamv1alpha1.IPPoolSpec{CIDR: "10.0.0.0/16", Gateway: "10.0.0.1",
		Routes: []ipamv1alpha1.Route{{Dst: "0.0.0.0/0"}, {Dst: "192.168.0.0/16", GW: "10.0.0.254"}, {Dst: "not-a-prefix"}},
		DNS:    &ipamv1alpha1.DNS{Nameservers: []string{"10.0.0.53"}, Domain: "a.example", Search: []string{"a.example"}}})
	v6 := ipamtest.ReadyPool("v6", ipamv1alpha1.IPPoolSpec{CIDR: "fd00::/64",
		Routes: []ipamv1alpha1.Route{{Dst: "fd10::/64"}},
		DNS: &ipamv1alpha1.DNS{Nameservers: []string{"fd00::53"}, Domain: "b.example", Search: []string{"b.example"},
			Options: []string{"ndots:2"}}})
	bare := ipamtest.ReadyPool("bare", ipamv1alpha1.IPPoolSpec{CIDR: "10.1.0.0/24"})
	pools := map[string]*ipamv1alpha1.IPPool{"v4": v4, "v6": v6, "bare": bare}
	claim := func(pool, addr string) *ipamv1alpha1.IPClaim {
		return addressClaim(pool, addr, thisNode, "web", "c1", "eth0")
	}
	tests := []struct {
		name       string
		cniVersion string
		claims     []*ipamv1alpha1.IPClaim
		want       string
		wantErr    string
	}{
		{name: "an address with its pool's prefix length, no gateway, routes or DNS", cniVersion: "1.1.0",
			claims: []*ipamv1alpha1.IPClaim{claim("bare", "10.1.0.7")},
			want:   `{"cniVersion":"1.1.0","ips":[{"address":"10.1.0.7/24"}]}`},
		{name: "gateway, a route through the pool's gateway, a route with its own, a bad route skipped", cniVersion: "1.1.0",
			claims: []*ipamv1alpha1.IPClaim{claim("v4", "10.0.3.4")},
			want: `{"cniVersion":"1.1.0","ips":[{"address":"10.0.3.4/16","gateway":"10.0.0.1"}],` +
				`"routes":[{"dst":"0.0.0.0/0","gw":"10.0.0.1"},{"dst":"192.168.0.0/16","gw":"10.0.0.254"}],` +
				`"dns":{"nameservers":["10.0.0.53"],"domain":"a.example","search":["a.example"]}}`},
		{name: "dual-stack: every nameserver, the first pool's domain and search, options from the first pool with some",
			cniVersion: "1.1.0", claims: []*ipamv1alpha1.IPClaim{claim("v4", "10.0.3.4"), claim("v6", "fd00::4")},
			want: `{"cniVersion":"1.1.0","ips":[{"address":"10.0.3.4/16","gateway":"10.0.0.1"},{"address":"fd00::4/64"}],` +
				`"routes":[{"dst":"0.0.0.0/0","gw":"10.0.0.1"},{"dst":"192.168.0.0/16","gw":"10.0.0.254"},{"dst":"fd10::/64"}],` +
				`"dns":{"nameservers":["10.0.0.53","fd00::53"],"domain":"a.example","search":["a.example"],"options":["ndots:2"]}}`},
		{name: "a route without gw in a pool without gateway has none", cniVersion: "1.1.0",
			claims: []*ipamv1alpha1.IPClaim{claim("v6", "fd00::4")},
			want: `{"cniVersion":"1.1.0","ips":[{"address":"fd00::4/64"}],"routes":[{"dst":"fd10::/64"}],` +
				`"dns":{"nameservers":["fd00::53"],"domain":"b.example","search":["b.example"],"options":["ndots:2"]}}`},
		{name: "converted to the configuration's version, 0.4.0", cniVersion: "0.4.0",
			claims: []*ipamv1alpha1.IPClaim{claim("bare", "10.1.0.7"), claim("v6", "fd00::4")},
			want: `{"cniVersion":"0.4.0","ips":[{"version":"4","address":"10.1.0.7/24"},{"version":"6","address":"fd00::4/64"}],` +
				`"routes":[{"dst":"fd10::/64"}],` +
				`"dns":{"nameservers":["fd00::53"],"domain":"b.example","search":["b.example"],"options":["ndots:2"]}}`},
		{name: "a claim of a pool that does not exist", cniVersion: "1.1.0",
			claims:  []*ipamv1alpha1.IPClaim{claim("gone", "10.2.0.1")},
			wantErr: "claim 10.2.0.1 belongs to pool gone, which does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			result, err := buildResult(tt.cniVersion, tt.claims, pools)
			if tt.wantErr != "" || err != nil {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			expectJSON(t, result, tt.want)
		})
	}
}

// expectJSON fails unless v marshals to the JSON document want (key order
// aside).
func expectJSON(t *testing.T, v any, want string) {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var got, wanted any
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(want), &wanted); err != nil {
		t.Fatalf("bad expectation %s: %v", want, err)
	}
	if !reflect.DeepEqual(got, wanted) {
		t.Fatalf("got  %s\nwant %s", data, want)
	}
}
