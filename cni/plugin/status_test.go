package plugin

import (
	"testing"

	"github.com/containernetworking/cni/pkg/types"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
)

// TestStatus pins what STATUS answers today: 50 when the API server does
// not answer, and also for the state of a configured pool.
func TestStatus(t *testing.T) {
	down := apierrors.NewServiceUnavailable("etcd is down")
	tests := []struct {
		name    string
		pools   []string
		errs    map[string]error
		setup   func(*Fake)
		wantMsg string
	}{
		{name: "no pool configured, the API server answers"},
		{name: "no pool configured, the API server does not answer", errs: map[string]error{"Ping": down},
			wantMsg: "ipkeeper cannot allocate: the API server does not answer: etcd is down"},
		{name: "every pool usable", pools: []string{"v4", "v6"}},
		{name: "the node cannot be read", pools: []string{"v4"}, errs: map[string]error{"NodeMeta": down},
			wantMsg: "ipkeeper cannot allocate: the API server does not answer: etcd is down"},
		{name: "a pool cannot be read", pools: []string{"v4"}, errs: map[string]error{"Pool": down},
			wantMsg: "ipkeeper cannot allocate: the API server does not answer: etcd is down"},
		{name: "a pool does not exist", pools: []string{"v4", "nope"},
			wantMsg: "ipkeeper cannot allocate: pool nope does not exist"},
		{name: "a pool does not select the node", pools: []string{"rack1"},
			wantMsg: "ipkeeper cannot allocate: pool rack1 does not select node node-a (nodeSelector rack=1): label the node or use another pool"},
		{name: "a pool is disabled", pools: []string{"v4"}, setup: func(f *Fake) { f.Pools["v4"].Spec.Disabled = true },
			wantMsg: "ipkeeper cannot allocate: pool v4 is disabled: enable it or use another pool"},
		{name: "a pool is exhausted", pools: []string{"v4", "full"},
			setup: func(f *Fake) {
				full := f.Pools["full"]
				full.Status.Allocated, full.Status.Free = 2, "0"
				full.Status.Conditions = append(full.Status.Conditions, metav1.Condition{
					Type: ipamv1alpha1.PoolExhausted, Status: metav1.ConditionTrue, Reason: "NoFreeAddress"})
			},
			wantMsg: "ipkeeper cannot allocate: pool full is exhausted (2 in use, 0 free)"},
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
			expectCNIError(t, p.Status(t.Context()), code, tt.wantMsg)
		})
	}
}
