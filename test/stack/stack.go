// Package stack starts what the CNI plugin finds around it in a cluster: a
// real control plane with ipkeeper's CRDs, the operator's controllers and
// the admission webhooks, and the plugin built as a node runs it. The CNI,
// network and performance tests share it.
package stack

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/containernetworking/cni/libcni"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/ipkeeper/ipkeeper/controllers"
	"github.com/ipkeeper/ipkeeper/test/testenv"
	"github.com/ipkeeper/ipkeeper/webhooks"
)

// Stack is a running control plane with the operator and a built plugin.
type Stack struct {
	Env *testenv.Env
	// PluginDir holds the ipkeeper binary: put it on the CNI_PATH.
	PluginDir string
	// Kubeconfig is an administrator's kubeconfig for the plugin.
	Kubeconfig string

	dir      string
	operator *testenv.Manager
	webhooks *testenv.Manager
}

// Start builds the plugin and starts the control plane, the controllers
// and the webhooks. The garbage collector's grace period is an hour, so it
// never releases a claim during a test. Stop it with Stop.
func Start() (*Stack, error) {
	dir, err := os.MkdirTemp("", "ipkeeper-stack-")
	if err != nil {
		return nil, err
	}
	s := &Stack{dir: dir, PluginDir: filepath.Join(dir, "bin"), Kubeconfig: filepath.Join(dir, "ipkeeper.kubeconfig")}
	if err := s.start(); err != nil {
		return nil, errors.Join(err, s.Stop())
	}
	return s, nil
}

func (s *Stack) start() error {
	if err := testenv.BuildPlugin(s.PluginDir); err != nil {
		return err
	}
	env, err := testenv.Start(testenv.Options{Webhooks: true})
	if err != nil {
		return err
	}
	s.Env = env
	if err := testenv.WriteKubeconfig(env.Config, s.Kubeconfig); err != nil {
		return err
	}
	s.operator, err = env.StartManager(testenv.ManagerOptions{NoWebhookServer: true, Setup: func(mgr ctrl.Manager) error {
		return controllers.SetupWithManager(mgr, controllers.Options{GCGracePeriod: time.Hour, GCScanInterval: time.Hour})
	}})
	if err != nil {
		return err
	}
	return s.StartWebhooks()
}

// StartWebhooks starts the webhook server, in a manager of its own so that
// a test can stop it while the controllers go on.
func (s *Stack) StartWebhooks() error {
	m, err := s.Env.StartManager(testenv.ManagerOptions{Setup: webhooks.SetupWithManager})
	if err != nil {
		return err
	}
	s.webhooks = m
	return nil
}

// StopWebhooks stops the webhook server: every claim create then fails.
func (s *Stack) StopWebhooks() error {
	m := s.webhooks
	s.webhooks = nil
	if m == nil {
		return nil
	}
	return m.Stop()
}

// Stop stops everything Start started and removes the plugin.
func (s *Stack) Stop() error {
	var errs []error
	errs = append(errs, s.StopWebhooks())
	if s.operator != nil {
		errs = append(errs, s.operator.Stop())
	}
	if s.Env != nil {
		errs = append(errs, s.Env.Stop())
	}
	return errors.Join(append(errs, os.RemoveAll(s.dir))...)
}

// NetworkList returns the network configuration list conf, as a runtime
// reads it from /etc/cni/net.d.
func NetworkList(t testing.TB, conf map[string]any) *libcni.NetworkConfigList {
	t.Helper()
	raw, err := json.Marshal(conf)
	if err != nil {
		t.Fatal(err)
	}
	list, err := libcni.ConfListFromBytes(raw)
	if err != nil {
		t.Fatal(err)
	}
	return list
}
