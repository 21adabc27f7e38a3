package controllers

import (
	"context"
	"fmt"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
	"github.com/ipkeeper/ipkeeper/test/harness"
)

// laggingCache reads from the API server, but for one pod it has not seen
// yet: a cache whose pod watch runs behind its claim watch.
type laggingCache struct {
	client.Client
	unseen types.NamespacedName
}

func (c laggingCache) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if _, pod := obj.(*metav1.PartialObjectMetadata); pod && key == c.unseen {
		return apierrors.NewNotFound(schema.GroupResource{Resource: "pods"}, key.Name)
	}
	return c.Client.Get(ctx, key, obj, opts...)
}

// TestAClaimWhosePodTheCacheHasNotSeenIsNotMarked reconciles a claim made
// just after its pod, with a cache that has not seen the pod yet: the API
// server has it, so the claim is not marked Orphaned and no leak is
// reported. (The collector's other tests show claims of pods gone marked.)
func TestAClaimWhosePodTheCacheHasNotSeenIsNotMarked(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pod := env.CreatePod(t, metav1.NamespaceDefault, "gc-unseen", nil)
	claim := env.CreateClaim(t, harness.AddressClaim("gc", "", "10.106.0.50", 28, harness.PodOwner(pod, "sandbox-"+string(pod.UID))))
	r := &IPClaimReconciler{
		Client:    laggingCache{Client: env.Client, unseen: client.ObjectKeyFromObject(pod)},
		APIReader: env.Client, Recorder: events.NewFakeRecorder(10), GracePeriod: time.Hour,
	}
	// The running operator writes to the claim too (its pool is missing):
	// a write that loses the race is requeued, and tried again here.
	harness.Eventually(t, operatorTimeout, func() error {
		res, err := r.Reconcile(ctx, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(claim)})
		if err != nil {
			t.Fatal(err)
		}
		if res.RequeueAfter == conflictRetryDelay {
			return fmt.Errorf("claim %s changed while it was reconciled", claim.Name)
		}
		return nil
	})
	got, err := getClaim(claim.Name)
	if err != nil {
		t.Fatal(err)
	}
	if meta.IsStatusConditionTrue(got.Status.Conditions, ipamv1alpha1.ClaimOrphaned) {
		t.Fatalf("claim %s was marked Orphaned while its pod exists, because the cache had not seen the pod: %+v", claim.Name, got.Status.Conditions)
	}
}
