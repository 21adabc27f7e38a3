package plugin

import (
	"testing"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
	"github.com/ipkeeper/ipkeeper/cni/cnierr"
	"github.com/ipkeeper/ipkeeper/cni/ipamtest"
)

func TestCheck(t *testing.T) {
	prevResult := map[string]any{"prevResult": map[string]any{"cniVersion": "1.1.0",
		"ips": []map[string]any{{"address": "10.0.0.2/24"}, {"address": "fd00::2/64"}}}}
	both := []*ipamv1alpha1.IPClaim{
		addressClaim("v4", "10.0.0.2", thisNode, "web", "c1", "eth0"),
		addressClaim("v6", "fd00::2", thisNode, "web", "c1", "eth0"),
	}
	tests := []struct {
		name     string
		claims   []*ipamv1alpha1.IPClaim
		extra    map[string]any
		errs     map[string]error
		wantCode uint
		wantMsg  string
	}{
		{name: "every address claimed by the container interface", claims: both, extra: prevResult},
		{name: "a claim released", claims: both[:1], extra: prevResult, wantCode: cnierr.ClaimMismatch,
			wantMsg: "address fd00::2 of container c1 (eth0) is not claimed: the claim was released; recreate the pod"},
		{name: "an address held by another container", extra: prevResult,
			claims:   []*ipamv1alpha1.IPClaim{both[0], addressClaim("v6", "fd00::2", "node-b", "db", "c2", "eth0")},
			wantCode: cnierr.ClaimMismatch,
			wantMsg:  "address fd00::2 of container c1 (eth0) is held by pod default/db (container c2 on node node-b)"},
		{name: "an address held by another interface of the container", extra: prevResult,
			claims:   []*ipamv1alpha1.IPClaim{addressClaim("v4", "10.0.0.2", thisNode, "web", "c1", "net1")},
			wantCode: cnierr.ClaimMismatch,
			wantMsg:  "address 10.0.0.2 of container c1 (eth0) is held by pod default/web (container c1 on node node-a)"},
		{name: "no prevResult", claims: both, wantCode: types.ErrInvalidNetworkConfig,
			wantMsg: "CHECK needs prevResult, the result of the ADD"},
		{name: "an API server that cannot answer", claims: both, extra: prevResult,
			errs:     map[string]error{"Get": apierrors.NewServiceUnavailable("etcd is down")},
			wantCode: types.ErrTryAgainLater, wantMsg: "read the claim of 10.0.0.2: etcd is down"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := NewFake(tt.claims...)
			for method, err := range tt.errs {
				f.Errs[method] = err
			}
			p := testPlugin(t, f, []string{"v4", "v6"}, tt.extra)
			err := p.Check(t.Context(), &skel.CmdArgs{ContainerID: "c1", IfName: "eth0"})
			ipamtest.ExpectExactCNIError(t, err, tt.wantCode, tt.wantMsg)
		})
	}
}
