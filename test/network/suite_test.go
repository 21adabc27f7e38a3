// Package network runs ipkeeper as the IPAM of the reference bridge plugin,
// through libcni, in network namespaces the tests create: the addresses on
// the interfaces must be the claimed ones, and the namespaces must reach
// each other. It needs root; without it every test skips and says why.
package network

import (
	"fmt"
	"os"
	"testing"

	"github.com/ipkeeper/ipkeeper/test/stack"
	"github.com/ipkeeper/ipkeeper/test/testenv"
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
	plugins, err := testenv.CNIPluginsDir()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	cluster, err := stack.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = cluster.Stop() }()
	env, kubeconfig = cluster.Env, cluster.Kubeconfig
	cniPath = []string{cluster.PluginDir, plugins}
	return m.Run()
}
