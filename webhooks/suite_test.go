package webhooks

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ipkeeper/ipkeeper/test/harness"
)

// The suite runs a real kube-apiserver and etcd with the generated CRDs and
// webhook configuration (config/webhook), and a manager serving the
// webhooks over TLS where the API server calls them. Table tests of the
// validators on a fake client run in the same binary.
var (
	env         *harness.Env
	mgr         *harness.Manager
	metricsAddr string
)

// errNotYet says that a condition waited for does not hold yet.
var errNotYet = errors.New("not yet")

// waitTimeout bounds every wait for the manager's cache to catch up; it
// costs time only when a test fails.
const waitTimeout = 30 * time.Second

func TestMain(m *testing.M) {
	os.Exit(harness.Run(m, func() (func() error, error) {
		var err error
		if env, err = harness.Start(harness.Options{Webhooks: true}); err != nil {
			return nil, err
		}
		if metricsAddr, err = harness.FreeLocalAddr(); err != nil {
			return env.Stop, err
		}
		mgr, err = env.StartManager(harness.ManagerOptions{MetricsAddr: metricsAddr, Setup: SetupWithManager})
		return env.Stop, err
	}))
}

// restartManager replaces the suite's manager, until the test ends, by one
// that serves the webhooks and runs whatever else setup registers. The
// webhook-only manager comes back also when the test fails on the way.
func restartManager(t *testing.T, setup func(ctrl.Manager) error) {
	t.Helper()
	t.Cleanup(func() {
		if err := replaceManager(SetupWithManager); err != nil {
			t.Errorf("restart the webhook-only manager: %v", err)
		}
	})
	if err := replaceManager(setup); err != nil {
		t.Fatalf("start a manager with the controllers: %v", err)
	}
}

// replaceManager stops the suite's manager, if one runs, and starts one
// with setup.
func replaceManager(setup func(ctrl.Manager) error) error {
	if mgr != nil {
		if err := mgr.Stop(); err != nil {
			return fmt.Errorf("stop the manager: %w", err)
		}
		mgr = nil
	}
	m, err := env.StartManager(harness.ManagerOptions{MetricsAddr: metricsAddr, Setup: setup})
	if err != nil {
		return err
	}
	mgr = m
	return nil
}

// create creates obj as kubectl would, deletes it when the test ends, and
// waits until the webhook's cache holds it.
func create(t *testing.T, obj client.Object) {
	t.Helper()
	ctx := context.Background()
	if err := env.Client.Create(ctx, obj); err != nil {
		t.Fatalf("create %s: %v", obj.GetName(), err)
	}
	t.Cleanup(func() { remove(t, obj) })
	waitCached(t, obj)
}

// update updates obj and waits until the webhook's cache holds the change.
func update(t *testing.T, obj client.Object) {
	t.Helper()
	if err := env.Client.Update(context.Background(), obj); err != nil {
		t.Fatalf("update %s: %v", obj.GetName(), err)
	}
	waitCached(t, obj)
}

// remove deletes obj, clears the finalizers that keep it, and waits until
// the webhook's cache has seen it go.
func remove(t *testing.T, obj client.Object) {
	t.Helper()
	ctx := context.Background()
	key := client.ObjectKeyFromObject(obj)
	if err := env.Client.Delete(ctx, obj); err != nil && !apierrors.IsNotFound(err) {
		t.Errorf("delete %s: %v", key.Name, err)
		return
	}
	current := obj.DeepCopyObject().(client.Object)
	harness.Eventually(t, waitTimeout, func() error {
		err := env.Client.Get(ctx, key, current)
		if err == nil && len(current.GetFinalizers()) > 0 {
			current.SetFinalizers(nil)
			err = errors.Join(env.Client.Update(ctx, current), errNotYet)
		}
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		if err := mgr.GetCache().Get(ctx, key, current); !apierrors.IsNotFound(err) {
			return errors.Join(err, fmt.Errorf("%s still cached", key.Name))
		}
		return nil
	})
}

// waitCached waits until the manager's cache holds obj at its current
// resourceVersion, so that the webhook judges against it.
func waitCached(t *testing.T, obj client.Object) {
	t.Helper()
	cached := obj.DeepCopyObject().(client.Object)
	harness.Eventually(t, waitTimeout, func() error {
		if err := mgr.GetCache().Get(context.Background(), client.ObjectKeyFromObject(obj), cached); err != nil {
			return fmt.Errorf("read %s from the cache: %w", obj.GetName(), err)
		}
		if cached.GetResourceVersion() != obj.GetResourceVersion() {
			return fmt.Errorf("%s cached at resourceVersion %s, want %s", obj.GetName(), cached.GetResourceVersion(), obj.GetResourceVersion())
		}
		return nil
	})
}

// expectDenied fails unless err is the named webhook's Invalid answer for
// the object named name, containing want.
func expectDenied(t *testing.T, err error, webhook, name, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("the API server accepted the object; want webhook %s to refuse it with %q", webhook, want)
	}
	prefix := fmt.Sprintf("admission webhook %q denied the request: ", webhook)
	named := fmt.Sprintf("%q is invalid", name)
	msg := err.Error()
	if !apierrors.IsInvalid(err) || !strings.Contains(msg, prefix) || !strings.Contains(msg, named) || !strings.Contains(msg, want) {
		t.Fatalf("error = %v\nwant an Invalid answer of webhook %s for %s containing %q", err, webhook, name, want)
	}
}
