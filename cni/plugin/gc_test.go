package plugin

import (
	"slices"
	"testing"

	"github.com/containernetworking/cni/pkg/types"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
	"github.com/ipkeeper/ipkeeper/cni/ipamtest"
)

// gcClaims are claims of this node and another, on the network "net" and
// another; c1/eth0 is the attachment the runtime still uses.
func gcClaims() []*ipamv1alpha1.IPClaim {
	otherNetwork := addressClaim("v4", "10.0.0.5", thisNode, "web", "c3", "eth0")
	otherNetwork.Spec.Owner.Network = "other"
	return []*ipamv1alpha1.IPClaim{
		addressClaim("v4", "10.0.0.2", thisNode, "web", "c1", "eth0"),
		addressClaim("v4", "10.0.0.3", thisNode, "old", "c2", "eth0"),
		addressClaim("v4", "10.0.0.4", thisNode, "web", "c1", "net1"),
		otherNetwork,
		addressClaim("v4", "10.0.0.6", "node-b", "far", "c4", "eth0"),
		{
			ObjectMeta: metav1.ObjectMeta{Name: "10.0.0.0-24"},
			Spec:       ipamv1alpha1.IPClaimSpec{Pool: "v4", Type: ipamv1alpha1.ClaimTypeBlock, Node: thisNode, CIDR: "10.0.0.0/24"},
		},
	}
}

func TestGC(t *testing.T) {
	valid := map[string]any{"cni.dev/valid-attachments": []map[string]string{{"containerID": "c1", "ifname": "eth0"}}}
	tests := []struct {
		name     string
		extra    map[string]any
		errs     map[string]error
		wantLeft []string
		wantCode uint
		wantMsg  string
	}{
		{name: "releases this node's claims of this network that are not valid attachments", extra: valid,
			wantLeft: []string{"10.0.0.0-24", "10.0.0.2", "10.0.0.5", "10.0.0.6"}},
		{name: "valid attachments under the key the specification first named",
			extra:    map[string]any{"cni.dev/attachments": []map[string]string{{"containerID": "c1", "ifname": "eth0"}}},
			wantLeft: []string{"10.0.0.0-24", "10.0.0.2", "10.0.0.5", "10.0.0.6"}},
		{name: "valid attachments under both keys",
			extra: map[string]any{
				"cni.dev/valid-attachments": []map[string]string{{"containerID": "c1", "ifname": "eth0"}},
				"cni.dev/attachments":       []map[string]string{{"containerID": "c1", "ifname": "net1"}},
			},
			wantLeft: []string{"10.0.0.0-24", "10.0.0.2", "10.0.0.4", "10.0.0.5", "10.0.0.6"}},
		{name: "no valid attachment: every claim of this network on this node",
			wantLeft: []string{"10.0.0.0-24", "10.0.0.5", "10.0.0.6"}},
		{name: "an API server that cannot list", extra: valid,
			errs:     map[string]error{"NodeClaims": apierrors.NewServiceUnavailable("etcd is down")},
			wantLeft: []string{"10.0.0.0-24", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"},
			wantCode: types.ErrTryAgainLater, wantMsg: "list this node's claims: etcd is down"},
		{name: "an API server that cannot delete", extra: valid,
			errs:     map[string]error{"Delete": apierrors.NewServiceUnavailable("etcd is down")},
			wantLeft: []string{"10.0.0.0-24", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"},
			wantCode: types.ErrTryAgainLater, wantMsg: "release stale claims: etcd is down\netcd is down"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := NewFake(gcClaims()...)
			for method, err := range tt.errs {
				f.Errs[method] = err
			}
			p := testPlugin(t, f, []string{"v4"}, tt.extra)
			ipamtest.ExpectExactCNIError(t, p.GC(t.Context()), tt.wantCode, tt.wantMsg)
			if left := f.Names(); !slices.Equal(left, tt.wantLeft) {
				t.Fatalf("claims left: %v, want %v", left, tt.wantLeft)
			}
		})
	}
}
