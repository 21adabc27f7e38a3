// Package cni drives the ipkeeper plugin binary the way container runtimes
// do, through libcni, against a real kube-apiserver and etcd with the
// operator's controllers and the admission webhooks running.
package cni

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/ipkeeper/ipkeeper/controllers"
	"github.com/ipkeeper/ipkeeper/test/testenv"
	"github.com/ipkeeper/ipkeeper/webhooks"
)

var (
	env *testenv.Env
	// binDir holds the plugin binary (the CNI_PATH of every call).
	binDir string
	// kubeconfig is the plugin's kubeconfig (an administrator's).
	kubeconfig string
	// webhookManager serves the webhooks; TestWebhookDown stops and
	// restarts it.
	webhookManager *testenv.Manager
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "ipkeeper-cni-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = os.RemoveAll(dir) }()
	binDir, kubeconfig = filepath.Join(dir, "bin"), filepath.Join(dir, "ipkeeper.kubeconfig")
	if err := testenv.BuildPlugin(binDir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	env, err = testenv.Start(testenv.Options{Webhooks: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	if err := testenv.WriteKubeconfig(env.Config, kubeconfig); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	operator, err := env.StartManager(testenv.ManagerOptions{NoWebhookServer: true, Setup: func(mgr ctrl.Manager) error {
		return controllers.SetupWithManager(mgr, controllers.Options{GCGracePeriod: time.Hour, GCScanInterval: time.Hour})
	}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = operator.Stop() }()
	if webhookManager, err = startWebhooks(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = webhookManager.Stop() }()
	return m.Run()
}

// startWebhooks runs the webhook server in a manager of its own, so that a
// test can stop it while the controllers go on.
func startWebhooks() (*testenv.Manager, error) {
	return env.StartManager(testenv.ManagerOptions{Setup: webhooks.SetupWithManager})
}
