package install

import (
	"context"
	"errors"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ipkeeper/ipkeeper/test/harness"
)

// TestManagerHandsOverLeadershipOnShutdown runs the manager binary with
// leader election, as its Deployment does, and stops it as the kubelet
// does before a node's maintenance: it releases its lease on the way out,
// so that another replica takes over at once rather than when the lease
// runs out.
func TestManagerHandsOverLeadershipOnShutdown(t *testing.T) {
	bins, err := harness.PrepareBinaries("manager")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bins.Remove() })
	cluster.StopOperatorFor(t) // one operator at a time
	manager, err := env.StartManagerProcess(bins.Path("manager"), harness.ProcessOptions{
		// The test's webhook server keeps the webhook port.
		Args: []string{"--leader-elect", "--webhook-enabled=false", "--gc-grace-period=1h"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = manager.Stop() }) // stopping twice is harmless
	lease := &coordinationv1.Lease{}
	key := client.ObjectKey{Namespace: harness.OperatorNamespace, Name: "ipkeeper.ipam.ipkeeper.dev"}
	t.Cleanup(func() {
		_ = env.Client.Delete(context.Background(), &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}})
	})
	harness.Eventually(t, time.Minute, func() error {
		if err := env.Client.Get(context.Background(), key, lease); err != nil {
			return err
		}
		if holder(lease) == "" {
			return errors.New("the lease has no holder yet")
		}
		return nil
	})
	leader := holder(lease)
	if err := manager.Stop(); err != nil {
		t.Fatalf("stop the manager: %v", err)
	}
	if err := env.Client.Get(context.Background(), key, lease); err != nil {
		t.Fatal(err)
	}
	if holder(lease) != "" {
		t.Errorf("the stopped manager %s still holds its lease (for %d s): the next replica waits for it to run out", leader, ptr.Deref(lease.Spec.LeaseDurationSeconds, 0))
	}
}

func holder(lease *coordinationv1.Lease) string {
	if lease.Spec.HolderIdentity == nil {
		return ""
	}
	return *lease.Spec.HolderIdentity
}
