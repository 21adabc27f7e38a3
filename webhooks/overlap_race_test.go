package webhooks

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
	"github.com/ipkeeper/ipkeeper/controllers"
	"github.com/ipkeeper/ipkeeper/test/harness"
)

// Two overlapping pools created at the same moment, before the webhook's
// cache shows either, are not both admitted, and the IPPool controller,
// running in the same manager as in production, never reports both Ready.
func TestOverlappingPoolsCreatedAtOnce(t *testing.T) {
	restartManager(t, func(m ctrl.Manager) error {
		if err := SetupWithManager(m); err != nil {
			return err
		}
		// The garbage collector has nothing to do here; keep it idle.
		return controllers.SetupWithManager(m, controllers.Options{GCGracePeriod: time.Hour, GCScanInterval: time.Hour, Namespace: harness.OperatorNamespace, NodeServiceAccount: harness.NodeServiceAccount})
	})
	const rounds = 10
	for round := range rounds {
		pools := []*ipamv1alpha1.IPPool{
			pool(fmt.Sprintf("race-%d-a", round), fmt.Sprintf("10.%d.0.0/16", 200+round)),
			pool(fmt.Sprintf("race-%d-b", round), fmt.Sprintf("10.%d.128.0/17", 200+round)),
		}
		errs := createAtOnce(pools)
		admitted := 0
		for i, p := range pools {
			if errs[i] == nil {
				admitted++
				t.Cleanup(func() { remove(t, p) })
				continue
			}
			expectDenied(t, errs[i], poolWebhook, p.Name, "overlaps pool")
		}
		if admitted != 1 {
			t.Fatalf("round %d: %d of two overlapping pools admitted (errors %v); want exactly one", round, admitted, errs)
		}
		harness.Eventually(t, waitTimeout, func() error {
			if n := readyCount(t, pools); n != 1 {
				return fmt.Errorf("round %d: %d pools Ready, want the admitted one", round, n)
			}
			return nil
		})
	}
	// Watch a while longer: the controller must not make a second pool Ready.
	harness.Consistently(t, 2*time.Second, func() error {
		for round := range rounds {
			pair := []*ipamv1alpha1.IPPool{
				pool(fmt.Sprintf("race-%d-a", round), ""), pool(fmt.Sprintf("race-%d-b", round), ""),
			}
			if n := readyCount(t, pair); n > 1 {
				return fmt.Errorf("round %d: both overlapping pools are Ready", round)
			}
		}
		return nil
	})
}

// createAtOnce creates pools concurrently, released together.
func createAtOnce(pools []*ipamv1alpha1.IPPool) []error {
	errs := make([]error, len(pools))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, p := range pools {
		wg.Go(func() {
			<-start
			errs[i] = env.Client.Create(context.Background(), p)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// readyCount returns how many of pools exist and are Ready, read from the
// API server.
func readyCount(t *testing.T, pools []*ipamv1alpha1.IPPool) int {
	t.Helper()
	n := 0
	for _, p := range pools {
		got := &ipamv1alpha1.IPPool{}
		err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(p), got)
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			t.Fatalf("get pool %s: %v", p.Name, err)
		case meta.IsStatusConditionTrue(got.Status.Conditions, ipamv1alpha1.PoolReady):
			n++
		}
	}
	return n
}
