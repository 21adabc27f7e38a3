package install

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ipkeeper/ipkeeper/cni/nodeagent"
	"github.com/ipkeeper/ipkeeper/test/harness"
)

// TestNodeAgentBinaryStopsOnSIGTERM runs the node agent's binary as its
// DaemonSet pod runs it, and stops it as the kubelet does, with SIGTERM:
// it exits 0 at once and leaves the plugin and its kubeconfig on the node,
// so that pods keep starting while its next pod comes.
func TestNodeAgentBinaryStopsOnSIGTERM(t *testing.T) {
	bins, err := harness.PrepareBinaries("ipkeeper-agent")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bins.Remove() })
	env.CreateNode(t, "node-s")
	a := newAgentNode(t, "node-s", env.CreateNodeAgentPod(t, "agent-node-s", "node-s"))
	agent := harness.StartCommand(t, harness.NodeAgentCommand(bins.Path("ipkeeper-agent"), a.cfg))
	harness.Eventually(t, 10*time.Second, func() error { _, err := os.Stat(a.cfg.KubeconfigPath()); return err })
	if err := agent.Stop(10 * time.Second); err != nil {
		t.Fatalf("the node agent exited with %v after SIGTERM:\n%s", err, agent.Output())
	}
	for _, path := range []string{filepath.Join(a.cfg.CNIBinDir, nodeagent.PluginName), a.cfg.KubeconfigPath()} {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			t.Errorf("the stopped node agent removed %s", path)
		}
	}
	if !strings.Contains(agent.Output(), "Stopping; the plugin") {
		t.Errorf("the node agent's log does not say it stopped:\n%s", agent.Output())
	}
}
