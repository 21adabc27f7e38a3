package plugin

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containernetworking/cni/pkg/types"

	"github.com/ipkeeper/ipkeeper/cni/ipamtest"
)

const kubeconfig = `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "http://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "kubeconfig"), []byte(kubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := func(ipam string) []byte {
		return []byte(`{"cniVersion":"1.1.0","name":"net","ipam":{"type":"ipkeeper","pools":["v4"],"dataDir":"` + dir + `",` + ipam + `}}`)
	}
	tests := []struct {
		name     string
		stdin    []byte
		wantNode string
		wantCode uint
		wantMsg  string
	}{
		{name: "node name configured", stdin: conf(`"nodeName":"node-a","kubeconfig":"` + dir + `/kubeconfig"`), wantNode: "node-a"},
		{name: "no kubeconfig yet", stdin: conf(`"nodeName":"node-a","kubeconfig":"` + dir + `/missing"`),
			wantCode: types.ErrInvalidNetworkConfig,
			wantMsg:  "read kubeconfig " + dir + "/missing: stat " + dir + "/missing: no such file or directory: the node agent writes it; check ipam.kubeconfig"},
		{name: "not a configuration", stdin: []byte(`{"cniVersion":"1.1.0","name":"net"}`),
			wantCode: types.ErrInvalidNetworkConfig,
			wantMsg:  `network configuration has no "ipam" section: add {"type": "ipkeeper", "pools": [...]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Load(tt.stdin)
			ipamtest.ExpectExactCNIError(t, err, tt.wantCode, tt.wantMsg)
			if err != nil {
				return
			}
			if p.Node != tt.wantNode || p.Cluster == nil {
				t.Fatalf("plugin on node %q with cluster %v, want node %q and a client", p.Node, p.Cluster, tt.wantNode)
			}
			// Nothing listens there: the error names where the client went.
			if _, err := p.Cluster.NodeMeta(context.Background(), tt.wantNode); err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
				t.Fatalf("the client's request: %v, want it sent to the kubeconfig's server http://127.0.0.1:1", err)
			}
		})
	}
}
