package controllers

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ipkeeper/ipkeeper/api/ipspace"
	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
	"github.com/ipkeeper/ipkeeper/test/harness"
)

// expectStatus returns nil when the pool's status holds exactly these
// counts for its current generation.
func expectStatus(name, capacity string, allocated int64, free string, blocks int64, blockCapacity string) error {
	pool, err := env.GetPool(name)
	if err != nil {
		return err
	}
	st := pool.Status
	got := fmt.Sprintf("capacity=%s allocated=%d free=%s blocks=%d blockCapacity=%s observedGeneration=%d",
		st.Capacity, st.Allocated, st.Free, st.Blocks, st.BlockCapacity, st.ObservedGeneration)
	want := fmt.Sprintf("capacity=%s allocated=%d free=%s blocks=%d blockCapacity=%s observedGeneration=%d",
		capacity, allocated, free, blocks, blockCapacity, pool.Generation)
	if got != want {
		return fmt.Errorf("status %s; want %s", got, want)
	}
	return nil
}

func TestPoolStatusMatchesRecountAfterChurn(t *testing.T) {
	const pool = "recount"
	// 256 addresses minus network, broadcast, gateway and ten excluded.
	env.CreatePool(t, pool, ipamv1alpha1.IPPoolSpec{
		CIDR: "10.101.0.0/24", BlockSize: ptr.To[int32](28),
		Gateway: "10.101.0.1", Exclude: []string{"10.101.0.200-10.101.0.209"},
	})
	// Usable addresses .2-.199 and two excluded ones, which a claim can only
	// hold when the webhook is out of the way and which must not count.
	var addrs []string
	for i := 2; i < 200; i += 3 {
		addrs = append(addrs, fmt.Sprintf("10.101.0.%d", i))
	}
	excluded := []string{"10.101.0.200", "10.101.0.205"}
	rng := rand.New(rand.NewPCG(1, 2))
	rng.Shuffle(len(addrs), func(i, j int) { addrs[i], addrs[j] = addrs[j], addrs[i] })

	// Create and delete concurrently, so that the controller sees bursts of
	// events in every order.
	live := map[string]bool{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(addrs); i += 4 {
				// Only the test goroutine may stop the test; deletePool
				// removes whatever is left at cleanup.
				c := harness.AddressClaim(pool, "", addrs[i], 28, harness.RuntimeOwner(fmt.Sprintf("c%d", i)))
				if err := env.Client.Create(context.Background(), c); err != nil {
					t.Errorf("create IPClaim %s: %v", c.Name, err)
					return
				}
				keep := i%3 != 0 // delete a third again
				if !keep {
					if err := env.Client.Delete(context.Background(), c); err != nil {
						t.Errorf("delete IPClaim %s: %v", c.Name, err)
						return
					}
				}
				mu.Lock()
				live[c.Spec.Address] = keep
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	allocated := int64(0)
	for _, keep := range live {
		if keep {
			allocated++
		}
	}
	for _, a := range excluded {
		env.CreateClaim(t, harness.AddressClaim(pool, "", a, 28, harness.RuntimeOwner("excluded-"+a)))
	}
	// Blocks of a live node: the collector would release empty blocks of a
	// node that does not exist.
	node := env.CreateNode(t, "recount-node")
	for _, cidr := range []string{"10.101.0.0/28", "10.101.0.16/28", "10.101.0.32/28"} {
		env.CreateClaim(t, harness.BlockClaim(pool, node.Name, cidr))
	}
	env.DeleteClaim(t, ipspace.BlockClaimName(mustPrefix(t, "10.101.0.16/28")))

	// The recount: what the API server holds, independently of the cache.
	claims := &ipamv1alpha1.IPClaimList{}
	if err := env.Client.List(context.Background(), claims, client.MatchingFields{ipamv1alpha1.FieldPool: pool}); err != nil {
		t.Fatal(err)
	}
	if want := int(allocated) + len(excluded) + 2; len(claims.Items) != want {
		t.Fatalf("the API server holds %d claims of the pool; the test left %d", len(claims.Items), want)
	}
	harness.Eventually(t, 15*time.Second, func() error {
		return expectStatus(pool, "243", allocated, fmt.Sprint(243-allocated), 2, "16")
	})
}

func TestPoolConditionsFollowFillLevel(t *testing.T) {
	const pool = "fill"
	// A /29 holds six usable addresses, .1 to .6, in two /30 blocks.
	env.CreatePool(t, pool, ipamv1alpha1.IPPoolSpec{CIDR: "10.102.0.0/29", BlockSize: ptr.To[int32](30)})
	harness.Eventually(t, operatorTimeout, func() error {
		p, err := env.GetPool(pool)
		if err != nil {
			return err
		}
		return firstError(
			expectCondition(p.Status.Conditions, ipamv1alpha1.PoolReady, metav1.ConditionTrue, ipamv1alpha1.ReasonAllocatable),
			expectCondition(p.Status.Conditions, ipamv1alpha1.PoolOverlapping, metav1.ConditionFalse, ipamv1alpha1.ReasonNoOverlap),
			expectCondition(p.Status.Conditions, ipamv1alpha1.PoolExhausted, metav1.ConditionFalse, ipamv1alpha1.ReasonFreeAddresses),
			expectStatus(pool, "6", 0, "6", 0, "2"),
		)
	})
	for i := 1; i <= 6; i++ {
		env.CreateClaim(t, harness.AddressClaim(pool, "", fmt.Sprintf("10.102.0.%d", i), 30, harness.RuntimeOwner(fmt.Sprint(i))))
	}
	harness.Eventually(t, operatorTimeout, func() error {
		p, err := env.GetPool(pool)
		if err != nil {
			return err
		}
		return firstError(
			expectCondition(p.Status.Conditions, ipamv1alpha1.PoolExhausted, metav1.ConditionTrue, ipamv1alpha1.ReasonNoFreeAddresses, "6"),
			expectCondition(p.Status.Conditions, ipamv1alpha1.PoolReady, metav1.ConditionTrue, ipamv1alpha1.ReasonAllocatable),
			expectStatus(pool, "6", 6, "0", 0, "2"),
			expectEvent(pool, eventExhausted, corev1.EventTypeWarning),
		)
	})
	env.DeleteClaim(t, "10.102.0.2")
	env.DeleteClaim(t, "10.102.0.5")
	harness.Eventually(t, operatorTimeout, func() error {
		p, err := env.GetPool(pool)
		if err != nil {
			return err
		}
		return firstError(
			expectCondition(p.Status.Conditions, ipamv1alpha1.PoolExhausted, metav1.ConditionFalse, ipamv1alpha1.ReasonFreeAddresses, "2 of 6"),
			expectStatus(pool, "6", 4, "2", 0, "2"),
		)
	})

	// Disabling the pool takes it out of service without touching its
	// claims; the new generation is observed.
	env.SetPoolDisabled(t, pool, true)
	harness.Eventually(t, operatorTimeout, func() error {
		p, err := env.GetPool(pool)
		if err != nil {
			return err
		}
		return firstError(
			expectCondition(p.Status.Conditions, ipamv1alpha1.PoolReady, metav1.ConditionFalse, ipamv1alpha1.ReasonDisabled),
			expectStatus(pool, "6", 4, "2", 0, "2"),
		)
	})
	env.SetPoolDisabled(t, pool, false)
	harness.Eventually(t, operatorTimeout, func() error {
		p, err := env.GetPool(pool)
		if err != nil {
			return err
		}
		return expectCondition(p.Status.Conditions, ipamv1alpha1.PoolReady, metav1.ConditionTrue, ipamv1alpha1.ReasonAllocatable)
	})
}

func TestPoolWithUnusableSpecIsNotReady(t *testing.T) {
	const pool = "invalid-spec"
	// The CRD lets a reversed range through; only the webhook refuses it.
	env.CreatePool(t, pool, ipamv1alpha1.IPPoolSpec{
		CIDR: "10.103.0.0/24", BlockSize: ptr.To[int32](28), Exclude: []string{"10.103.0.9-10.103.0.1"},
	})
	harness.Eventually(t, operatorTimeout, func() error {
		p, err := env.GetPool(pool)
		if err != nil {
			return err
		}
		return firstError(
			expectCondition(p.Status.Conditions, ipamv1alpha1.PoolReady, metav1.ConditionFalse, ipamv1alpha1.ReasonInvalidSpec, "ends before it starts"),
			expectCondition(p.Status.Conditions, ipamv1alpha1.PoolExhausted, metav1.ConditionUnknown, ipamv1alpha1.ReasonInvalidSpec),
			expectStatus(pool, "", 0, "", 0, ""),
		)
	})
}

func TestYoungerOverlappingPoolLosesUntilOlderIsDeleted(t *testing.T) {
	// "overlap-a" is created first: whether or not both land in the same
	// second, it wins (by age, or by name on a tie), so the outcome is the
	// same on every run.
	env.CreatePool(t, "overlap-a", ipamv1alpha1.IPPoolSpec{CIDR: "10.104.0.0/16", BlockSize: ptr.To[int32](24)})
	env.CreatePool(t, "overlap-b", ipamv1alpha1.IPPoolSpec{CIDR: "10.104.1.0/24", BlockSize: ptr.To[int32](28)})
	loses := func() error {
		a, err := env.GetPool("overlap-a")
		if err != nil {
			return err
		}
		b, err := env.GetPool("overlap-b")
		if err != nil {
			return err
		}
		return firstError(
			expectCondition(b.Status.Conditions, ipamv1alpha1.PoolOverlapping, metav1.ConditionTrue, ipamv1alpha1.ReasonOverlapsOlderPool,
				"overlap-a", "10.104.0.0/16", "10.104.1.0/24"),
			expectCondition(b.Status.Conditions, ipamv1alpha1.PoolReady, metav1.ConditionFalse, ipamv1alpha1.ReasonOverlapsOlderPool, "overlap-a"),
			expectCondition(a.Status.Conditions, ipamv1alpha1.PoolOverlapping, metav1.ConditionFalse, ipamv1alpha1.ReasonNoOverlap),
			expectCondition(a.Status.Conditions, ipamv1alpha1.PoolReady, metav1.ConditionTrue, ipamv1alpha1.ReasonAllocatable),
		)
	}
	harness.Eventually(t, operatorTimeout, loses)
	harness.Eventually(t, operatorTimeout, func() error { return expectEvent("overlap-b", eventOverlapping, corev1.EventTypeWarning) })
	// Every reconcile decides the same way: no flapping.
	harness.Consistently(t, time.Second, loses)

	env.DeletePool(t, "overlap-a")
	harness.Eventually(t, operatorTimeout, func() error {
		b, err := env.GetPool("overlap-b")
		if err != nil {
			return err
		}
		return firstError(
			expectCondition(b.Status.Conditions, ipamv1alpha1.PoolOverlapping, metav1.ConditionFalse, ipamv1alpha1.ReasonNoOverlap),
			expectCondition(b.Status.Conditions, ipamv1alpha1.PoolReady, metav1.ConditionTrue, ipamv1alpha1.ReasonAllocatable),
		)
	})
}

func TestDeletedPoolWaitsForItsClaims(t *testing.T) {
	const pool = "terminating"
	env.CreatePool(t, pool, ipamv1alpha1.IPPoolSpec{CIDR: "10.105.0.0/24", BlockSize: ptr.To[int32](28)})
	for _, a := range []string{"10.105.0.10", "10.105.0.11"} {
		env.CreateClaim(t, harness.AddressClaim(pool, "", a, 28, harness.RuntimeOwner(a)))
	}
	env.CreateClaim(t, harness.BlockClaim(pool, env.CreateNode(t, "terminating-node").Name, "10.105.0.0/28"))
	harness.Eventually(t, operatorTimeout, func() error {
		p, err := env.GetPool(pool)
		if err != nil {
			return err
		}
		if len(p.Finalizers) == 0 {
			return fmt.Errorf("no finalizer yet")
		}
		return nil
	})
	if err := env.Client.Delete(context.Background(), &ipamv1alpha1.IPPool{ObjectMeta: metav1.ObjectMeta{Name: pool}}); err != nil {
		t.Fatal(err)
	}
	terminating := func(words ...string) func() error {
		return func() error {
			p, err := env.GetPool(pool)
			if err != nil {
				return err
			}
			return expectCondition(p.Status.Conditions, ipamv1alpha1.PoolReady, metav1.ConditionFalse, ipamv1alpha1.ReasonTerminating, words...)
		}
	}
	harness.Eventually(t, operatorTimeout, terminating("waiting for 3 claims to be released"))
	harness.Consistently(t, time.Second, terminating("waiting for 3 claims"))

	env.DeleteClaim(t, "10.105.0.10")
	harness.Eventually(t, operatorTimeout, terminating("waiting for 2 claims"))
	// The last address of the node's block goes: the collector releases
	// the block of the pool being deleted, and the pool goes with it.
	env.DeleteClaim(t, "10.105.0.11")
	harness.Eventually(t, operatorTimeout, func() error {
		return env.ExpectGone(&ipamv1alpha1.IPClaim{ObjectMeta: metav1.ObjectMeta{Name: ipspace.BlockClaimName(mustPrefix(t, "10.105.0.0/28"))}})
	})
	harness.Eventually(t, operatorTimeout, func() error {
		return env.ExpectGone(&ipamv1alpha1.IPPool{ObjectMeta: metav1.ObjectMeta{Name: pool}})
	})
}

// firstError returns the first non-nil error.
func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
