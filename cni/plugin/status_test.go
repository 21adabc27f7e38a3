package plugin

import (
	"errors"
	"testing"

	"github.com/containernetworking/cni/pkg/types"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
	"github.com/ipkeeper/ipkeeper/cni/ipamtest"
)

// TestStatus checks that STATUS answers 50 only when the plugin cannot work
// on the node at all, and never for the state of a pool.
func TestStatus(t *testing.T) {
	down := apierrors.NewServiceUnavailable("etcd is down")
	refused := apierrors.NewUnauthorized("token expired")
	forbidden := apierrors.NewForbidden(schema.GroupResource{Group: "ipam.ipkeeper.dev", Resource: "ippools"}, "", errors.New("RBAC: access denied"))
	exhausted := func(f *Fake) {
		full := f.Pools["full"]
		full.Status.Allocated, full.Status.Free = 2, "0"
		full.Status.Conditions = append(full.Status.Conditions, metav1.Condition{
			Type: ipamv1alpha1.PoolExhausted, Status: metav1.ConditionTrue, Reason: "NoFreeAddress"})
	}
	tests := []struct {
		name    string
		pools   []string
		errs    map[string]error
		setup   func(*Fake)
		wantMsg string
	}{
		{name: "no pool configured, the API server answers"},
		{name: "every pool usable", pools: []string{"v4", "v6"}},
		{name: "the API server does not answer", pools: []string{"v4"}, errs: map[string]error{"Ping": down},
			wantMsg: "ipkeeper cannot allocate: the API server does not answer: etcd is down"},
		{name: "the credentials are refused", pools: []string{"v4"}, errs: map[string]error{"Ping": refused},
			wantMsg: "ipkeeper cannot allocate: the API server refuses the plugin's credentials (token expired): the node agent rewrites the kubeconfig /etc/cni/net.d/ipkeeper.d/ipkeeper.kubeconfig; check that it runs on this node"},
		{name: "the credentials may not read pools", pools: []string{"v4"}, errs: map[string]error{"Ping": forbidden},
			wantMsg: `ipkeeper cannot allocate: the plugin's credentials may not read pools (ippools.ipam.ipkeeper.dev is forbidden: RBAC: access denied): bind the node service account to the ipkeeper node ClusterRole`},
		{name: "the API server throttles the plugin", pools: []string{"v4"},
			errs: map[string]error{"Ping": apierrors.NewTooManyRequests("too many requests from this node", 1)}},
		{name: "a pool does not exist", pools: []string{"v4", "nope"}},
		{name: "a pool does not select the node", pools: []string{"rack1"}},
		{name: "a pool is disabled", pools: []string{"v4"}, setup: func(f *Fake) { f.Pools["v4"].Spec.Disabled = true }},
		{name: "a pool is exhausted", pools: []string{"v4", "full"}, setup: exhausted},
		{name: "the node and pools cannot be read, but the API server answers", pools: []string{"v4"},
			errs: map[string]error{"NodeMeta": down, "Pool": down}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := addCluster()
			for method, err := range tt.errs {
				f.Errs[method] = err
			}
			if tt.setup != nil {
				tt.setup(f)
			}
			p := testPlugin(t, f, tt.pools, nil)
			var code uint
			if tt.wantMsg != "" {
				code = types.ErrPluginNotAvailable
			}
			ipamtest.ExpectExactCNIError(t, p.Status(t.Context()), code, tt.wantMsg)
		})
	}
}
