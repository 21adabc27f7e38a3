// Package network runs ipkeeper as the IPAM of the reference bridge plugin,
// through libcni, in network namespaces the tests create: the addresses on
// the interfaces must be the claimed ones, and the namespaces must reach
// each other. It needs root; without it every test skips and says why.
package network

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
	// cniPath lists the directories holding ipkeeper and the reference
	// plugins, as a runtime's CNI_PATH does.
	cniPath []string
	// kubeconfig is the plugin's kubeconfig.
	kubeconfig string
)

// notRoot says why the tests skip when not run as root.
const notRoot = "the network tests create network namespaces, veth pairs and a bridge, which needs root: run them as root (CI does)"

func TestMain(m *testing.M) {
	if os.Geteuid() != 0 {
		os.Exit(m.Run()) // every test skips, saying why
	}
	os.Exit(run(m))
}

// requireRoot skips a test that needs root when not run as root.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip(notRoot)
	}
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "ipkeeper-network-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = os.RemoveAll(dir) }()
	plugins, err := testenv.CNIPluginsDir()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	binDir := filepath.Join(dir, "bin")
	cniPath, kubeconfig = []string{binDir, plugins}, filepath.Join(dir, "ipkeeper.kubeconfig")
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
	mgr, err := env.StartManager(testenv.ManagerOptions{Setup: func(mgr ctrl.Manager) error {
		opts := controllers.Options{GCGracePeriod: time.Hour, GCScanInterval: time.Hour}
		if err := controllers.SetupWithManager(mgr, opts); err != nil {
			return err
		}
		return webhooks.SetupWithManager(mgr)
	}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = mgr.Stop() }()
	return m.Run()
}
