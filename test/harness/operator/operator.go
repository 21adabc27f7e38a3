// Package operator runs ipkeeper's operator, its controllers and its
// admission webhooks, on a harness control plane: the cluster the CNI
// plugin finds around it on a node. The CNI, network and performance tests
// share it.
//
// It is a package of its own because the harness must not import the
// controllers and webhooks packages, whose tests use the harness; this is
// the one place that wires them in.
package operator

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/ipkeeper/ipkeeper/controllers"
	"github.com/ipkeeper/ipkeeper/test/harness"
	"github.com/ipkeeper/ipkeeper/webhooks"
)

// Cluster is a running control plane with the operator's controllers and
// webhooks, the plugin binary, and a kubeconfig for it.
type Cluster struct {
	Env *harness.Env
	// Plugin holds the plugin binary: its Dir is the CNI_PATH.
	Plugin *harness.Binaries
	// Kubeconfig is an administrator's kubeconfig for the plugin.
	Kubeconfig string

	dir      string
	operator *harness.Manager
	webhooks *harness.Manager
}

// Options are the operator's, as the tests run it: the garbage collector's
// grace period is an hour, so that it never releases a claim during a test.
var Options = controllers.Options{
	GCGracePeriod: time.Hour, GCScanInterval: time.Hour,
	Namespace: harness.OperatorNamespace, NodeServiceAccount: harness.NodeServiceAccount,
	NodeAgent: controllers.NodeAgentOptions{Image: "registry.invalid/ipkeeper:test", CNIBinDir: "/opt/cni/bin", CNIConfDir: "/etc/cni/net.d"},
}

// Start prepares the plugin and starts the control plane, the controllers
// and the webhooks. The garbage collector's grace period is an hour, so it
// never releases a claim during a test. Stop it with Stop.
func Start() (*Cluster, error) {
	dir, err := os.MkdirTemp("", "ipkeeper-cluster-")
	if err != nil {
		return nil, fmt.Errorf("create a directory for the kubeconfig: %w", err)
	}
	c := &Cluster{dir: dir, Kubeconfig: filepath.Join(dir, "ipkeeper.kubeconfig")}
	if err := c.start(); err != nil {
		return nil, errors.Join(err, c.Stop())
	}
	return c, nil
}

func (c *Cluster) start() error {
	plugin, err := harness.PreparePlugin()
	if err != nil {
		return err
	}
	c.Plugin = plugin
	env, err := harness.Start(harness.Options{Webhooks: true})
	if err != nil {
		return err
	}
	c.Env = env
	if err := harness.WriteKubeconfig(env.Config, c.Kubeconfig); err != nil {
		return fmt.Errorf("write the plugin's kubeconfig: %w", err)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: harness.OperatorNamespace}}
	if err := env.Client.Create(context.Background(), ns); err != nil {
		return fmt.Errorf("create the operator's namespace: %w", err)
	}
	if err := c.StartOperator(); err != nil {
		return err
	}
	return c.StartWebhooks()
}

// StartOperator starts the operator's controllers, in a manager of their
// own so that a test can stop them while the webhooks go on. It does
// nothing while they run.
func (c *Cluster) StartOperator() error {
	if c.operator != nil {
		return nil
	}
	m, err := c.Env.StartManager(harness.ManagerOptions{NoWebhookServer: true, Setup: func(mgr ctrl.Manager) error {
		return controllers.SetupWithManager(mgr, Options)
	}})
	if err != nil {
		return err
	}
	c.operator = m
	return nil
}

// StopOperator stops the operator's controllers: pool status, the garbage
// collector and the admission setup stop, the webhooks go on.
func (c *Cluster) StopOperator() error {
	m := c.operator
	c.operator = nil
	if m == nil {
		return nil
	}
	return m.Stop()
}

// StartWebhooks starts the webhook server, in a manager of its own so that
// a test can stop it while the controllers go on. It does nothing while
// the server runs.
func (c *Cluster) StartWebhooks() error {
	if c.webhooks != nil {
		return nil
	}
	m, err := c.Env.StartManager(harness.ManagerOptions{Setup: webhooks.SetupWithManager})
	if err != nil {
		return err
	}
	c.webhooks = m
	return nil
}

// StopWebhooks stops the webhook server: every pool write, and every claim
// write without a node-bound credential (an administrator's, as most CNI
// tests use), then fails.
func (c *Cluster) StopWebhooks() error {
	m := c.webhooks
	c.webhooks = nil
	if m == nil {
		return nil
	}
	return m.Stop()
}

// StopOperatorFor stops the operator's controllers and starts them again
// when t ends, also when t fails on the way, so that the next test finds
// them running.
func (c *Cluster) StopOperatorFor(t testing.TB) {
	t.Helper()
	stopFor(t, "the operator", c.StopOperator, c.StartOperator)
}

// StopWebhooksFor stops the webhook server and starts it again when t
// ends, also when t fails on the way.
func (c *Cluster) StopWebhooksFor(t testing.TB) {
	t.Helper()
	stopFor(t, "the webhook server", c.StopWebhooks, c.StartWebhooks)
}

// stopFor stops what with stop, and registers start, which does nothing
// while what runs, before it does: a failed stop leaves nothing down.
func stopFor(t testing.TB, what string, stop, start func() error) {
	t.Helper()
	t.Cleanup(func() {
		if err := start(); err != nil {
			t.Errorf("restart %s: %v", what, err)
		}
	})
	if err := stop(); err != nil {
		t.Fatalf("stop %s: %v", what, err)
	}
}

// Stop stops everything Start started and removes the kubeconfig and the
// plugin it built.
func (c *Cluster) Stop() error {
	var errs []error
	if c.Env != nil {
		errs = append(errs, c.Env.Stop())
	}
	if c.Plugin != nil {
		errs = append(errs, c.Plugin.Remove())
	}
	return errors.Join(append(errs, os.RemoveAll(c.dir))...)
}
