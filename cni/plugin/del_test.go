package plugin

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
	"github.com/ipkeeper/ipkeeper/cni/cnierr"
	"github.com/ipkeeper/ipkeeper/cni/ipamtest"
)

// delClaims are the claims of container c1 (eth0 in both families, net1)
// and of container c2.
func delClaims() []*ipamv1alpha1.IPClaim {
	return []*ipamv1alpha1.IPClaim{
		addressClaim("v4", "10.0.0.2", thisNode, "web", "c1", "eth0"),
		addressClaim("v6", "fd00::2", thisNode, "web", "c1", "eth0"),
		addressClaim("v4", "10.0.0.3", thisNode, "web", "c1", "net1"),
		addressClaim("v4", "10.0.0.4", thisNode, "db", "c2", "eth0"),
	}
}

// prevResultOf is a DEL's configuration key prevResult, naming addrs.
func prevResultOf(addrs ...string) map[string]any {
	var ips []map[string]any
	for _, addr := range addrs {
		ips = append(ips, map[string]any{"address": addr + "/24"})
	}
	return map[string]any{"prevResult": map[string]any{"cniVersion": "1.1.0", "ips": ips}}
}

func TestDel(t *testing.T) {
	claims := schema.GroupResource{Group: ipamv1alpha1.GroupVersion.Group, Resource: "ipclaims"}
	cannotList := map[string]error{"ContainerClaims": fmt.Errorf("list the claims of container c1: %w", context.DeadlineExceeded)}
	tests := []struct {
		name        string
		containerID string
		// extra are more keys of the configuration: prevResult.
		extra    map[string]any
		errs     map[string]error
		wantLeft []string
		wantCode uint
		wantMsg  string
	}{
		{name: "releases this interface's claims in both families, no other", containerID: "c1",
			wantLeft: []string{"10.0.0.3", "10.0.0.4"}},
		{name: "prevResult names the claims: read by name, no list", containerID: "c1",
			extra: prevResultOf("10.0.0.2", "fd00::2"), errs: cannotList,
			wantLeft: []string{"10.0.0.3", "10.0.0.4"}},
		{name: "prevResult names an address another interface holds: that claim is left", containerID: "c1",
			extra: prevResultOf("10.0.0.2", "10.0.0.3"), errs: cannotList,
			wantLeft: []string{"10.0.0.3", "10.0.0.4", "fd00::2"}},
		{name: "prevResult names an address no longer claimed: released already", containerID: "c1",
			extra: prevResultOf("10.0.0.9", "fd00::2"), errs: cannotList,
			wantLeft: []string{"10.0.0.2", "10.0.0.3", "10.0.0.4"}},
		{name: "prevResult, and an API server that cannot read: try again later", containerID: "c1",
			extra: prevResultOf("10.0.0.2", "fd00::2"), errs: map[string]error{"Get": apierrors.NewServiceUnavailable("etcd is down")},
			wantLeft: []string{"10.0.0.2", "10.0.0.3", "10.0.0.4", "fd00::2"},
			wantCode: types.ErrTryAgainLater, wantMsg: "find the claims to release: etcd is down\netcd is down"},
		{name: "prevResult without addresses: the list decides", containerID: "c1",
			extra:    prevResultOf(),
			wantLeft: []string{"10.0.0.3", "10.0.0.4"}},
		{name: "a container without claims: success", containerID: "c-gone",
			wantLeft: []string{"10.0.0.2", "10.0.0.3", "10.0.0.4", "fd00::2"}},
		{name: "an API server that cannot delete: try again later", containerID: "c1",
			errs:     map[string]error{"Delete": apierrors.NewServiceUnavailable("etcd is down")},
			wantLeft: []string{"10.0.0.2", "10.0.0.3", "10.0.0.4", "fd00::2"},
			wantCode: types.ErrTryAgainLater, wantMsg: "release claims: etcd is down\netcd is down"},
		{name: "an API server that cannot list: try again later", containerID: "c1",
			errs:     cannotList,
			wantLeft: []string{"10.0.0.2", "10.0.0.3", "10.0.0.4", "fd00::2"},
			wantCode: types.ErrTryAgainLater,
			wantMsg:  "find the claims to release (timed out; raise ipam.timeout if the API server is slow): list the claims of container c1: context deadline exceeded"},
		{name: "a delete refused for good", containerID: "c1",
			errs:     map[string]error{"Delete": apierrors.NewForbidden(claims, "10.0.0.2", fmt.Errorf("not this node's"))},
			wantLeft: []string{"10.0.0.2", "10.0.0.3", "10.0.0.4", "fd00::2"},
			wantCode: cnierr.Denied,
			wantMsg: `release claims: ipclaims.ipam.ipkeeper.dev "10.0.0.2" is forbidden: not this node's` + "\n" +
				`ipclaims.ipam.ipkeeper.dev "10.0.0.2" is forbidden: not this node's`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := NewFake(delClaims()...)
			for method, err := range tt.errs {
				f.Errs[method] = err
			}
			p := testPlugin(t, f, []string{"v4", "v6"}, tt.extra)
			err := p.Del(t.Context(), &skel.CmdArgs{ContainerID: tt.containerID, IfName: "eth0"})
			ipamtest.ExpectExactCNIError(t, err, tt.wantCode, tt.wantMsg)
			if left := addressesOf(f, all); !slices.Equal(left, tt.wantLeft) {
				t.Fatalf("claims left: %v, want %v", left, tt.wantLeft)
			}
		})
	}
}
