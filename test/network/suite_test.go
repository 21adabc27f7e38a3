// Package network runs ipkeeper as the IPAM of the reference bridge and
// macvlan plugins, through libcni, in network namespaces the tests create:
// on one host, and on two simulated nodes (each a namespace with its own
// bridge) joined into one L2 segment. The addresses on the interfaces must
// be the claimed ones, and the pods must reach each other. It needs root: without it every test skips and says why, or
// fails when IPKEEPER_REQUIRE_ROOT=1 (harness.RequireRoot).
package network

import (
	"os"
	"testing"

	"github.com/ipkeeper/ipkeeper/test/harness"
	"github.com/ipkeeper/ipkeeper/test/harness/operator"
)

var (
	env *harness.Env
	// cniPath lists the directories holding ipkeeper and the reference
	// plugins, as a runtime's CNI_PATH does.
	cniPath []string
	// kubeconfig is the plugin's kubeconfig.
	kubeconfig string
)

func TestMain(m *testing.M) {
	os.Exit(harness.Run(m, start))
}

// start starts the cluster and finds the plugins, unless the tests cannot
// run for want of root: then each test skips or fails by itself.
func start() (func() error, error) {
	if os.Geteuid() != 0 {
		return func() error { return nil }, nil
	}
	plugins, err := harness.CNIPluginsDir()
	if err != nil {
		return nil, err
	}
	cluster, err := operator.Start()
	if err != nil {
		return nil, err
	}
	env, kubeconfig = cluster.Env, cluster.Kubeconfig
	cniPath = []string{cluster.Plugin.Dir, plugins}
	return cluster.Stop, nil
}
