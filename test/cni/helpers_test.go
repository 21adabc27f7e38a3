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
// if it were a separate host.
type node struct {
	name    string
	dataDir string
	cni     *libcni.CNIConfig
}

func newNode(t *testing.T, name string) *node {
	env.CreateNode(t, name)
	dir := t.TempDir()
	return &node{
		name:    name,
		dataDir: filepath.Join(dir, "data"),
		cni:     libcni.NewCNIConfigWithCacheDir([]string{binDir}, filepath.Join(dir, "cache"), nil),
	}
}

// ipamConfig is the ipam section the node uses.
func (n *node) ipamConfig(pools ...string) map[string]any {
	return harness.IPAMConfig(kubeconfig, n.name, n.dataDir, pools...)
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
