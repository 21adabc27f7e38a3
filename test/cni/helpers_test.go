package cni

import (
	"path/filepath"
	"testing"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"

	"github.com/ipkeeper/ipkeeper/test/harness"
)

// node is one simulated node: its own name, data dir and libcni cache, as
// if it were a separate host, and the kubeconfig its plugin uses.
type node struct {
	name       string
	dataDir    string
	cni        *libcni.CNIConfig
	kubeconfig string
}

// newNode creates a node whose plugin uses the administrator's kubeconfig.
func newNode(t *testing.T, name string) *node {
	env.CreateNode(t, name)
	return nodeWith(t, name, kubeconfig)
}

// newBoundNode creates a node whose plugin authenticates as on a real
// node: with a token of the node service account bound to a node agent
// pod on it, so that its requests skip the webhook and the admission
// policy judges them. The test installs the node side of config/default
// first.
func newBoundNode(t *testing.T, name string) *node {
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := harness.WriteKubeconfig(env.TokenConfig(env.NodeToken(t, name)), path); err != nil {
		t.Fatal(err)
	}
	return nodeWith(t, name, path)
}

// nodeWith returns node name, whose plugin uses kubeconfig, with a data
// dir and a libcni cache of its own.
func nodeWith(t *testing.T, name, kubeconfig string) *node {
	dir := t.TempDir()
	return &node{
		name:       name,
		dataDir:    filepath.Join(dir, "data"),
		cni:        libcni.NewCNIConfigWithCacheDir([]string{binDir}, filepath.Join(dir, "cache"), nil),
		kubeconfig: kubeconfig,
	}
}

// ipamConfig is the ipam section the node uses.
func (n *node) ipamConfig(pools ...string) map[string]any {
	return harness.IPAMConfig(n.kubeconfig, n.name, n.dataDir, pools...)
}

// resultIP returns the only address of an ADD result.
func resultIP(t *testing.T, res types.Result) string {
	result, err := current.NewResultFromResult(res)
	if err != nil || len(result.IPs) != 1 {
		t.Errorf("result %v: %v", res, err)
		return ""
	}
	return result.IPs[0].Address.IP.String()
}
