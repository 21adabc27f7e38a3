package controllers

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
)

// gcTimeout is ample for the collector to mark a claim, wait out the grace
// period (plus the second lastTransitionTime may lose) and release it.
const gcTimeout = testGracePeriod + timestampSlack + 10*time.Second

// expectNotOrphaned returns nil while the claim exists and is not marked.
func expectNotOrphaned(name string) error {
	claim, err := getClaim(name)
	if err != nil {
		return err
	}
	if meta.IsStatusConditionTrue(claim.Status.Conditions, ipamv1alpha1.ClaimOrphaned) {
		return fmt.Errorf("claim %s is marked Orphaned: %+v", name, claim.Status.Conditions)
	}
	return nil
}

// releasedTotal returns ipkeeper_gc_claims_released_total for reason.
func releasedTotal(t *testing.T, reason string) float64 {
	t.Helper()
	samples, err := scrape()
	if err != nil {
		t.Fatal(err)
	}
	v, ok := samples[fmt.Sprintf("ipkeeper_gc_claims_released_total{reason=%q}", reason)]
	if !ok {
		t.Fatalf("no ipkeeper_gc_claims_released_total series for %s", reason)
	}
	return v
}

func TestGCReleasesClaimOfDeletedPodAfterGracePeriod(t *testing.T) {
	t.Parallel()
	pod := createPod(t, "gc-deleted")
	claim := createClaim(t, addressClaim("gc", "10.106.0.10", 28, podOwner(pod)))
	releasedBefore := releasedTotal(t, ipamv1alpha1.ReasonPodGone)
	consistently(t, time.Second, func() error { return expectNotOrphaned(claim.Name) })

	deletePod(t, pod.Name)
	var firstSeen time.Time
	eventually(t, gcTimeout, func() error {
		c, err := getClaim(claim.Name)
		if err != nil {
			return fmt.Errorf("the claim went before it was marked Orphaned: %w", err)
		}
		if err := expectCondition(c.Status.Conditions, ipamv1alpha1.ClaimOrphaned, metav1.ConditionTrue, ipamv1alpha1.ReasonPodGone, pod.Name, string(pod.UID)); err != nil {
			return err
		}
		firstSeen = meta.FindStatusCondition(c.Status.Conditions, ipamv1alpha1.ClaimOrphaned).LastTransitionTime.Time
		return nil
	})
	eventually(t, gcTimeout, func() error { return expectGone(claim) })
	if held := time.Since(firstSeen); held < testGracePeriod {
		t.Errorf("the claim was released %s after it was marked Orphaned; want at least the grace period %s", held, testGracePeriod)
	}
	eventually(t, 10*time.Second, func() error { return expectEvent(claim.Name, eventReleased, corev1.EventTypeNormal) })
	if after := releasedTotal(t, ipamv1alpha1.ReasonPodGone); after < releasedBefore+1 {
		t.Errorf("ipkeeper_gc_claims_released_total{reason=PodGone} went from %v to %v; want an increase", releasedBefore, after)
	}
}

func TestGCReleasesClaimOfPodRecreatedUnderSameName(t *testing.T) {
	t.Parallel()
	old := createPod(t, "gc-recreated")
	oldClaim := createClaim(t, addressClaim("gc", "10.106.0.20", 28, podOwner(old)))
	deletePod(t, old.Name)
	pod := createPod(t, old.Name)
	if pod.UID == old.UID {
		t.Fatalf("the recreated pod kept uid %s", pod.UID)
	}
	newClaim := createClaim(t, addressClaim("gc", "10.106.0.21", 28, podOwner(pod)))

	// The name is taken again, but not by the pod the claim was made for.
	eventually(t, gcTimeout, func() error { return expectGone(oldClaim) })
	consistently(t, testGracePeriod+timestampSlack, func() error { return expectNotOrphaned(newClaim.Name) })
}

func TestGCKeepsClaimsOfLivePodsAndOtherRuntimes(t *testing.T) {
	t.Parallel()
	pod := createPod(t, "gc-no-ips")
	live, err := getPodFromServer(pod.Name)
	if err != nil {
		t.Fatal(err)
	}
	if len(live.Status.PodIPs) != 0 || live.Status.PodIP != "" {
		t.Fatalf("pod %s has IPs %v; the test needs a pod without any", pod.Name, live.Status.PodIPs)
	}
	podClaim := createClaim(t, addressClaim("gc", "10.106.0.30", 28, podOwner(pod)))
	// A container runtime other than Kubernetes records no pod: nothing can
	// prove such a claim leaked, so it is never collected.
	runtimeClaim := createClaim(t, addressClaim("gc", "10.106.0.31", 28, runtimeOwner("containerd-only")))

	// Longer than a grace period and a scan, so that every path has run.
	consistently(t, 2*testGracePeriod+testScanInterval, func() error {
		return firstError(expectNotOrphaned(podClaim.Name), expectNotOrphaned(runtimeClaim.Name))
	})
}

func TestGCReleasesEmptyBlocksOfDeletedNode(t *testing.T) {
	t.Parallel()
	const pool = "gc-blocks"
	createPool(t, pool, "10.107.0.0/24", 28)
	gone, stays := createNode(t, "gc-node-gone"), createNode(t, "gc-node-stays")
	empty := createClaim(t, blockClaim(pool, "10.107.0.0/28", gone.Name))
	used := createClaim(t, blockClaim(pool, "10.107.0.16/28", gone.Name))
	other := createClaim(t, blockClaim(pool, "10.107.0.32/28", stays.Name))
	// An address inside the used block, deliberately without labels: the
	// collector must see it by the address, not by a label.
	inside := createClaim(t, addressClaim(pool, "10.107.0.20", 0, runtimeOwner("inside")))
	// An address of another pool inside the empty block's range does not
	// keep it.
	createClaim(t, addressClaim("gc-elsewhere", "10.107.0.5", 0, runtimeOwner("elsewhere")))
	releasedBefore := releasedTotal(t, ipamv1alpha1.ReasonNodeGone)

	deleteNode(t, gone.Name)
	eventually(t, 10*time.Second, func() error { return expectGone(empty) })
	consistently(t, 2*time.Second, func() error {
		_, errUsed := getClaim(used.Name)
		_, errOther := getClaim(other.Name)
		return firstError(errUsed, errOther)
	})
	eventually(t, 10*time.Second, func() error { return expectEvent(empty.Name, eventReleased, corev1.EventTypeNormal) })

	// Once its last address goes, the block goes too (found by the periodic
	// scan, since the address claim had no block label).
	deleteClaim(t, inside.Name)
	eventually(t, testScanInterval+10*time.Second, func() error { return expectGone(used) })
	if _, err := getClaim(other.Name); err != nil {
		t.Errorf("the block of a live node was touched: %v", err)
	}
	if after := releasedTotal(t, ipamv1alpha1.ReasonNodeGone); after < releasedBefore+2 {
		t.Errorf("ipkeeper_gc_claims_released_total{reason=NodeGone} went from %v to %v; want +2", releasedBefore, after)
	}
}

func TestReleaseRefusesClaimChangedSinceObserved(t *testing.T) {
	ctx := context.Background()
	gc := &IPClaimReconciler{Client: env.Client, APIReader: env.Client, Recorder: mgr.GetEventRecorder("test")}
	const name = "10.108.0.5"
	// Owners without a pod keep the running collector out of the way.
	createClaim(t, addressClaim("gc", name, 28, runtimeOwner("first")))
	observed, err := getClaim(name)
	if err != nil {
		t.Fatal(err)
	}

	// Between observation and release, the address is released and taken
	// again by another container: same name, another uid.
	deleteClaim(t, name)
	eventually(t, 5*time.Second, func() error { return expectGone(observed.DeepCopy()) })
	createClaim(t, addressClaim("gc", name, 28, runtimeOwner("second")))
	res, err := gc.release(ctx, observed, ipamv1alpha1.ReasonPodGone, "test")
	if err != nil || res.RequeueAfter <= 0 {
		t.Fatalf("release of a recreated claim = %+v, %v; want a requeue and no error", res, err)
	}
	live, err := getClaim(name)
	if err != nil {
		t.Fatalf("the recreated claim was deleted: %v", err)
	}
	if live.Spec.Owner.ContainerID != "second" {
		t.Fatalf("the live claim is owned by %s; want second", live.Spec.Owner.ContainerID)
	}

	// The same claim, changed in place: same uid, another resourceVersion.
	observed = live.DeepCopy()
	live.Labels = map[string]string{"touched": "yes"}
	if err := env.Client.Patch(ctx, live, client.MergeFrom(observed)); err != nil {
		t.Fatal(err)
	}
	res, err = gc.release(ctx, observed, ipamv1alpha1.ReasonPodGone, "test")
	if err != nil || res.RequeueAfter <= 0 {
		t.Fatalf("release of a changed claim = %+v, %v; want a requeue and no error", res, err)
	}
	if _, err := getClaim(name); err != nil {
		t.Fatalf("the changed claim was deleted: %v", err)
	}

	// A copy that is still current is released: the preconditions, not a
	// broken release, saved the claims above.
	if _, err := gc.release(ctx, live, ipamv1alpha1.ReasonPodGone, "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := getClaim(name); !apierrors.IsNotFound(err) {
		t.Fatalf("a current copy was not released: %v", err)
	}
}

// getPodFromServer reads a pod of the default namespace.
func getPodFromServer(name string) (*corev1.Pod, error) {
	pod := &corev1.Pod{}
	return pod, env.Client.Get(context.Background(), client.ObjectKey{Namespace: metav1.NamespaceDefault, Name: name}, pod)
}

// createNode creates a node and deletes it at cleanup if it still exists.
func createNode(t *testing.T, name string) *corev1.Node {
	t.Helper()
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := env.Client.Create(context.Background(), node); err != nil {
		t.Fatalf("create node %s: %v", name, err)
	}
	t.Cleanup(func() {
		if err := env.Client.Delete(context.Background(), node); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("delete node %s: %v", name, err)
		}
	})
	return node
}

// deleteNode deletes a node.
func deleteNode(t *testing.T, name string) {
	t.Helper()
	if err := env.Client.Delete(context.Background(), &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
		t.Fatalf("delete node %s: %v", name, err)
	}
}
