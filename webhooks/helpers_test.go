package webhooks

import (
	"context"
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
	"github.com/ipkeeper/ipkeeper/controllers/claimindex"
	"github.com/ipkeeper/ipkeeper/test/harness"
)

// builderIndexer registers field indexes on a fake client builder, so that
// the fake client indexes exactly what the manager's cache does.
type builderIndexer struct{ b *fake.ClientBuilder }

func (i builderIndexer) IndexField(_ context.Context, obj client.Object, field string, extract client.IndexerFunc) error {
	i.b.WithIndex(obj, field, extract)
	return nil
}

// fakeReader returns a fake client holding objs, indexed like the cache.
func fakeReader(t *testing.T, objs ...client.Object) client.Client {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := errors.Join(ipamv1alpha1.AddToScheme(scheme), corev1.AddToScheme(scheme)); err != nil {
		t.Fatal(err)
	}
	b := fake.NewClientBuilder().WithScheme(scheme).WithObjects(objs...)
	if err := claimindex.Register(context.Background(), builderIndexer{b}); err != nil {
		t.Fatal(err)
	}
	return b.Build()
}

// basePool is a valid IPv4 pool that sets every optional field, the base
// the table cases mutate.
func basePool() *ipamv1alpha1.IPPool {
	return harness.FullPool("pods", "10.32.0.0/16")
}

// pool returns a minimal pool.
func pool(name, cidr string) *ipamv1alpha1.IPPool {
	return &ipamv1alpha1.IPPool{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: ipamv1alpha1.IPPoolSpec{CIDR: cidr}}
}

// podClaim returns pod default/web-0's Address claim of address for its
// sandbox containerID on node-a, labelled with its /24 block.
func podClaim(poolName, address, containerID string) *ipamv1alpha1.IPClaim {
	return harness.AddressClaim(poolName, "node-a", address, 24, harness.PodOwner(harness.WebPod(), containerID))
}

// expectErrors checks a validation result: no errors when want is empty,
// else an error whose text contains want and whose reason is reason.
func expectErrors(t *testing.T, errs field.ErrorList, want, reason string) {
	t.Helper()
	if want == "" {
		if len(errs) > 0 {
			t.Fatalf("valid object refused: %v", errs.ToAggregate())
		}
		return
	}
	for _, e := range errs {
		if strings.Contains(e.Error(), want) {
			if e.Origin != reason {
				t.Fatalf("error %q has reason %q; want %q", e.Error(), e.Origin, reason)
			}
			return
		}
	}
	if len(errs) == 0 {
		t.Fatalf("object admitted; want it refused with %q", want)
	}
	t.Fatalf("errors = %v; want one containing %q", errs.ToAggregate(), want)
}
