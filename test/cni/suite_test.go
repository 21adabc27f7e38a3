// Package cni drives the ipkeeper plugin binary the way container runtimes
// do, through libcni, against a real kube-apiserver and etcd with the
// operator's controllers and the admission webhooks running.
package cni

import (
	"fmt"
	"os"
	"testing"

	"github.com/ipkeeper/ipkeeper/test/stack"
	"github.com/ipkeeper/ipkeeper/test/testenv"
)

var (
	cluster *stack.Stack
	env     *testenv.Env
	// binDir holds the plugin binary (the CNI_PATH of every call).
	binDir string
	// kubeconfig is the plugin's kubeconfig (an administrator's).
	kubeconfig string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	if cluster, err = stack.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = cluster.Stop() }()
	env, binDir, kubeconfig = cluster.Env, cluster.PluginDir, cluster.Kubeconfig
	return m.Run()
}
