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
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
	"github.com/ipkeeper/ipkeeper/test/harness"
)

// gcTimeout is ample for the collector to mark a claim, wait out the grace
// period (plus the second lastTransitionTime may lose) and release it.
const gcTimeout = testGracePeriod + timestampSlack + operatorTimeout

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
	return harness.MetricValue(t, metricsAddr, fmt.Sprintf("ipkeeper_gc_claims_released_total{reason=%q}", reason))
}

func TestGCReleasesClaimOfDeletedPodAfterGracePeriod(t *testing.T) {
	t.Parallel()
	pod := env.CreatePod(t, metav1.NamespaceDefault, "gc-deleted", nil)
	claim := env.CreateClaim(t, harness.AddressClaim("gc", "", "10.106.0.10", 28, harness.PodOwner(pod, "sandbox-"+string(pod.UID))))
	releasedBefore := releasedTotal(t, ipamv1alpha1.ReasonPodGone)
	harness.Consistently(t, time.Second, func() error { return expectNotOrphaned(claim.Name) })

	env.DeletePod(t, pod)
	var firstSeen time.Time
	harness.Eventually(t, gcTimeout, func() error {
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
	harness.Eventually(t, gcTimeout, func() error { return env.ExpectGone(claim) })
	if held := time.Since(firstSeen); held < testGracePeriod {
		t.Errorf("the claim was released %s after it was marked Orphaned; want at least the grace period %s", held, testGracePeriod)
	}
	harness.Eventually(t, operatorTimeout, func() error { return expectEvent(claim.Name, eventReleased, corev1.EventTypeNormal) })
	if after := releasedTotal(t, ipamv1alpha1.ReasonPodGone); after < releasedBefore+1 {
		t.Errorf("ipkeeper_gc_claims_released_total{reason=PodGone} went from %v to %v; want an increase", releasedBefore, after)
	}
}

func TestGCReleasesClaimOfPodRecreatedUnderSameName(t *testing.T) {
	t.Parallel()
	old := env.CreatePod(t, metav1.NamespaceDefault, "gc-recreated", nil)
	oldClaim := env.CreateClaim(t, harness.AddressClaim("gc", "", "10.106.0.20", 28, harness.PodOwner(old, "sandbox-"+string(old.UID))))
	env.DeletePod(t, old)
	pod := env.CreatePod(t, metav1.NamespaceDefault, old.Name, nil)
	if pod.UID == old.UID {
		t.Fatalf("the recreated pod kept uid %s", pod.UID)
	}
	newClaim := env.CreateClaim(t, harness.AddressClaim("gc", "", "10.106.0.21", 28, harness.PodOwner(pod, "sandbox-"+string(pod.UID))))

	// The name is taken again, but not by the pod the claim was made for.
	harness.Eventually(t, gcTimeout, func() error { return env.ExpectGone(oldClaim) })
	harness.Consistently(t, testGracePeriod+timestampSlack, func() error { return expectNotOrphaned(newClaim.Name) })
}

func TestGCKeepsClaimsOfLivePodsAndOtherRuntimes(t *testing.T) {
	t.Parallel()
	pod := env.CreatePod(t, metav1.NamespaceDefault, "gc-no-ips", nil)
	live, err := getPodFromServer(pod.Name)
	if err != nil {
		t.Fatal(err)
	}
	if len(live.Status.PodIPs) != 0 || live.Status.PodIP != "" {
		t.Fatalf("pod %s has IPs %v; the test needs a pod without any", pod.Name, live.Status.PodIPs)
	}
	podClaim := env.CreateClaim(t, harness.AddressClaim("gc", "", "10.106.0.30", 28, harness.PodOwner(pod, "sandbox-"+string(pod.UID))))
	// A container runtime other than Kubernetes records no pod: nothing can
	// prove such a claim leaked, so it is never collected.
	runtimeClaim := env.CreateClaim(t, harness.AddressClaim("gc", "", "10.106.0.31", 28, harness.RuntimeOwner("containerd-only")))

	// Longer than a grace period and a scan, so that every path has run.
	harness.Consistently(t, 2*testGracePeriod+testScanInterval, func() error {
		return firstError(expectNotOrphaned(podClaim.Name), expectNotOrphaned(runtimeClaim.Name))
	})
}

func TestGCReleasesEmptyBlocksOfDeletedNode(t *testing.T) {
	t.Parallel()
	const pool = "gc-blocks"
	env.CreatePool(t, pool, ipamv1alpha1.IPPoolSpec{CIDR: "10.107.0.0/24", BlockSize: ptr.To[int32](28)})
	gone, stays := env.CreateNode(t, "gc-node-gone"), env.CreateNode(t, "gc-node-stays")
	empty := env.CreateClaim(t, harness.BlockClaim(pool, gone.Name, "10.107.0.0/28"))
	used := env.CreateClaim(t, harness.BlockClaim(pool, gone.Name, "10.107.0.16/28"))
	other := env.CreateClaim(t, harness.BlockClaim(pool, stays.Name, "10.107.0.32/28"))
	// An address inside the used block, deliberately without labels: the
	// collector must see it by the address, not by a label.
	inside := harness.AddressClaim(pool, "", "10.107.0.20", 0, harness.RuntimeOwner("inside"))
	inside.Labels = nil
	env.CreateClaim(t, inside)
	harness.Eventually(t, operatorTimeout, func() error { // found by nothing else
		return mgr.GetCache().Get(context.Background(), client.ObjectKeyFromObject(inside), &ipamv1alpha1.IPClaim{})
	})
	// An address of another pool inside the empty block's range does not
	// keep it.
	env.CreateClaim(t, harness.AddressClaim("gc-elsewhere", "", "10.107.0.5", 0, harness.RuntimeOwner("elsewhere")))
	releasedBefore := releasedTotal(t, ipamv1alpha1.ReasonNodeGone)

	env.DeleteNode(t, gone.Name)
	harness.Eventually(t, operatorTimeout, func() error { return env.ExpectGone(empty) })
	harness.Consistently(t, 2*time.Second, func() error {
		_, errUsed := getClaim(used.Name)
		_, errOther := getClaim(other.Name)
		return firstError(errUsed, errOther)
	})
	harness.Eventually(t, operatorTimeout, func() error { return expectEvent(empty.Name, eventReleased, corev1.EventTypeNormal) })

	// Once its last address goes, the block goes too (found by the periodic
	// scan, since the address claim had no block label).
	env.DeleteClaim(t, inside.Name)
	harness.Eventually(t, testScanInterval+operatorTimeout, func() error { return env.ExpectGone(used) })
	// The event follows the count: once it is there, so is the count.
	harness.Eventually(t, operatorTimeout, func() error { return expectEvent(used.Name, eventReleased, corev1.EventTypeNormal) })
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
	const name = "10.110.0.5"
	// Owners without a pod keep the running collector from releasing it.
	env.CreateClaim(t, harness.AddressClaim("gc", "", name, 28, harness.RuntimeOwner("first")))
	observed, err := getClaim(name)
	if err != nil {
		t.Fatal(err)
	}

	// Between observation and release, the address is released and taken
	// again by another container: same name, another uid.
	env.DeleteClaim(t, name)
	harness.Eventually(t, 5*time.Second, func() error { return env.ExpectGone(observed.DeepCopy()) })
	env.CreateClaim(t, harness.AddressClaim("gc", "", name, 28, harness.RuntimeOwner("second")))
	// The running operator marks it once (its pool is missing): let that
	// write land first, so that the copies below stay current.
	harness.Eventually(t, operatorTimeout, func() error {
		return expectClaimCondition(name, ipamv1alpha1.ClaimInvalid, metav1.ConditionTrue, ipamv1alpha1.ReasonPoolMissing)
	})
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

// TestGCKeepsClaimsOfStaticPods makes a claim for a static pod's sandbox:
// it carries the uid the kubelet gave the static pod, which the API server
// knows only from the annotation of the static pod's mirror pod. The claim
// stays while the mirror pod exists, and goes once it is deleted.
func TestGCKeepsClaimsOfStaticPods(t *testing.T) {
	t.Parallel()
	const staticUID = "6d1c0c7e0f3b4a4e9d7f1b2a3c4d5e6f"
	mirror := harness.Pod(metav1.NamespaceDefault, "gc-static-node-a", map[string]string{corev1.MirrorPodAnnotationKey: staticUID})
	mirror.Spec.NodeName = "node-a"
	if err := env.Client.Create(context.Background(), mirror); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { env.DeletePod(t, mirror) })
	owner := harness.PodOwner(mirror, "sandbox-static")
	owner.UID = staticUID
	claim := env.CreateClaim(t, harness.AddressClaim("gc", "", "10.106.0.40", 28, owner))

	harness.Consistently(t, 2*testGracePeriod+testScanInterval, func() error { return expectNotOrphaned(claim.Name) })
	env.DeletePod(t, mirror)
	harness.Eventually(t, gcTimeout, func() error { return env.ExpectGone(claim) })
}

// TestGCReleasesEmptyBlocksOfMissingPools stores Block claims of a pool
// that does not exist, as a pool deleted at the moment a node claimed a
// block of it leaves: the empty one is released, the one that still holds
// an address is kept.
func TestGCReleasesEmptyBlocksOfMissingPools(t *testing.T) {
	t.Parallel()
	const pool = "gc-pool-gone"
	live := env.CreateNode(t, "gc-node-of-gone-pool")
	// The address first: a block is released as soon as it is seen empty.
	env.CreateClaim(t, harness.AddressClaim(pool, live.Name, "10.109.0.20", 28, harness.RuntimeOwner("still-here")))
	empty := env.CreateClaim(t, harness.BlockClaim(pool, live.Name, "10.109.0.0/28"))
	used := env.CreateClaim(t, harness.BlockClaim(pool, live.Name, "10.109.0.16/28"))
	harness.Eventually(t, operatorTimeout, func() error { return env.ExpectGone(empty) })
	harness.Consistently(t, 2*time.Second, func() error { _, err := getClaim(used.Name); return err })
	harness.Eventually(t, operatorTimeout, func() error { return expectEvent(empty.Name, eventReleased, corev1.EventTypeNormal) })
}

// TestDeletedPoolReleasesEmptyBlocksOfLiveNodes deletes a pool whose only
// claim is an empty block of a live node: the collector releases the
// block, and the pool goes.
func TestDeletedPoolReleasesEmptyBlocksOfLiveNodes(t *testing.T) {
	t.Parallel()
	const pool = "gc-deleted-pool"
	env.CreatePool(t, pool, ipamv1alpha1.IPPoolSpec{CIDR: "10.111.0.0/24", BlockSize: ptr.To[int32](28)})
	live := env.CreateNode(t, "gc-node-of-deleted-pool")
	block := env.CreateClaim(t, harness.BlockClaim(pool, live.Name, "10.111.0.0/28"))
	harness.Consistently(t, 2*time.Second, func() error { _, err := getClaim(block.Name); return err })
	if err := env.Client.Delete(context.Background(), &ipamv1alpha1.IPPool{ObjectMeta: metav1.ObjectMeta{Name: pool}}); err != nil {
		t.Fatal(err)
	}
	harness.Eventually(t, operatorTimeout, func() error { return env.ExpectGone(block) })
	harness.Eventually(t, operatorTimeout, func() error {
		return env.ExpectGone(&ipamv1alpha1.IPPool{ObjectMeta: metav1.ObjectMeta{Name: pool}})
	})
}
