package install

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
	"github.com/ipkeeper/ipkeeper/cni/atomicfile"
	"github.com/ipkeeper/ipkeeper/cni/cnierr"
	"github.com/ipkeeper/ipkeeper/cni/nodeagent"
	"github.com/ipkeeper/ipkeeper/test/harness"
)

// agentNode is a node's file system with the node agent running on it, as
// its DaemonSet pod sees it.
type agentNode struct {
	cfg  nodeagent.Config
	stop func()
}

// startAgent runs the node agent's code for node with a token bound to pod,
// into a temporary directory, until the test ends.
func startAgent(t *testing.T, node string, pod *corev1.Pod) *agentNode {
	t.Helper()
	a := newAgentNode(t, node, pod)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- nodeagent.Run(ctx, a.cfg, func(msg string, kv ...any) { t.Log(append([]any{msg}, kv...)...) })
	}()
	a.stop = func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("the node agent stopped with %v", err)
		}
	}
	t.Cleanup(a.stop)
	harness.Eventually(t, 10*time.Second, func() error { _, err := os.Stat(a.cfg.KubeconfigPath()); return err })
	return a
}

// newAgentNode lays out a node's file system in a temporary directory, with
// a token bound to pod and the cluster's CA where the kubelet projects
// them, for the node agent of node.
func newAgentNode(t *testing.T, node string, pod *corev1.Pod) *agentNode {
	t.Helper()
	dir := t.TempDir()
	cfg := nodeagent.Config{
		NodeName: node, Server: env.Config.Host,
		TokenFile: filepath.Join(dir, "secrets", "token"), CAFile: filepath.Join(dir, "secrets", "ca.crt"),
		PluginSource: cluster.Plugin.Path("ipkeeper"),
		CNIBinDir:    filepath.Join(dir, "opt", "cni", "bin"), CNIConfDir: filepath.Join(dir, "etc", "cni", "net.d"),
		Interval: 100 * time.Millisecond,
	}
	for _, d := range []string{filepath.Dir(cfg.TokenFile), cfg.CNIBinDir, cfg.CNIConfDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	a := &agentNode{cfg: cfg}
	a.setToken(t, env.BoundToken(t, pod))
	if err := os.WriteFile(cfg.CAFile, env.Config.CAData, 0o644); err != nil {
		t.Fatal(err)
	}
	return a
}

// setToken writes token where the kubelet projects the agent's token.
func (a *agentNode) setToken(t *testing.T, token string) {
	t.Helper()
	if err := os.WriteFile(a.cfg.TokenFile, []byte(token), 0o600); err != nil {
		t.Fatal(err)
	}
}

// network is a network of the plugin the agent installed, with nothing in
// its ipam section but the pool, the data dir and the agent's kubeconfig:
// the node's name comes from the file the agent wrote. nodeName, when set,
// overrides it.
func (a *agentNode) network(t *testing.T, nodeName string) (*libcni.CNIConfig, *libcni.NetworkConfigList) {
	t.Helper()
	ipam := map[string]any{"type": "ipkeeper", "pools": []string{"agent-v4"}, "kubeconfig": a.cfg.KubeconfigPath(), "dataDir": filepath.Join(t.TempDir(), "data")}
	if nodeName != "" {
		ipam["nodeName"] = nodeName
	}
	return libcni.NewCNIConfigWithCacheDir([]string{a.cfg.CNIBinDir}, t.TempDir(), nil), harness.IPAMNetwork("agentnet", ipam)
}

// TestNodeAgentGivesThePluginWhatItNeeds runs the node agent's code with a
// real token bound to its pod on node-a, then the plugin binary the agent
// installed with nothing but what the agent wrote: it allocates for node-a,
// and is refused for node-b. When the kubelet rotates the token (the old
// one stops working), the agent rewrites the kubeconfig and the next ADD
// authenticates with the new token. A copy of the plugin interrupted
// halfway leaves the installed binary whole.
func TestNodeAgentGivesThePluginWhatItNeeds(t *testing.T) {
	ctx := context.Background()
	env.InstallRendered(t, "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding")
	env.CreateReadyPool(t, "agent-v4", ipamv1alpha1.IPPoolSpec{CIDR: "10.75.0.0/24", BlockSize: ptr.To[int32](28)})
	env.CreateNode(t, "node-a")
	env.CreateNode(t, "node-b")
	first := env.CreateNodeAgentPod(t, "agent-node-a-1", "node-a")
	agent := startAgent(t, "node-a", first)

	cni, list := agent.network(t, "")
	pod := env.CreatePod(t, "agent", "web-0", nil)
	expectAddOnNode(t, cni, list, harness.RuntimeConf("c-agent-1", pod), "node-a")

	cniB, listB := agent.network(t, "node-b")
	harness.Eventually(t, 30*time.Second, func() error {
		_, err := cniB.AddNetworkList(ctx, listB, harness.RuntimeConf("c-agent-b", nil))
		var cniErr *types.Error
		if !errors.As(err, &cniErr) || cniErr.Code != cnierr.Denied ||
			!strings.Contains(cniErr.Msg, "credentials bound to node node-a may only write IPClaims of node node-a") {
			_ = cniB.DelNetworkList(ctx, listB, harness.RuntimeConf("c-agent-b", nil))
			return errors.New("the plugin with node-a's credential was not refused node-b's claims: " + errString(err))
		}
		return nil
	})

	// The kubelet projects a new token; the old one stops working, as it
	// does when it expires (here: its pod is deleted).
	second := env.CreateNodeAgentPod(t, "agent-node-a-2", "node-a")
	env.DeletePod(t, first)
	harness.Eventually(t, 30*time.Second, func() error {
		err := cni.GetStatusNetworkList(ctx, list)
		if err == nil {
			return errors.New("STATUS still succeeds with the old token")
		}
		return nil
	})
	newToken := env.BoundToken(t, second)
	agent.setToken(t, newToken)
	harness.Eventually(t, 10*time.Second, func() error {
		if token := kubeconfigToken(t, agent.cfg.KubeconfigPath()); token != newToken {
			return errors.New("the kubeconfig still holds the old token")
		}
		return nil
	})
	expectAddOnNode(t, cni, list, harness.RuntimeConf("c-agent-2", pod), "node-a")

	expectInterruptedCopyHarmless(t, agent.cfg, cni)
}

// expectAddOnNode ADDs rt and checks the claim names node.
func expectAddOnNode(t *testing.T, cni *libcni.CNIConfig, list *libcni.NetworkConfigList, rt *libcni.RuntimeConf, node string) {
	t.Helper()
	res, err := cni.AddNetworkList(context.Background(), list, rt)
	if err != nil {
		t.Fatalf("ADD %s with what the node agent wrote: %v", rt.ContainerID, err)
	}
	result, err := current.NewResultFromResult(res)
	if err != nil || len(result.IPs) != 1 {
		t.Fatalf("ADD %s: %v, %v", rt.ContainerID, res, err)
	}
	claim := env.AddressClaims(t, "agent-v4")[result.IPs[0].Address.IP.String()]
	if claim.Spec.Node != node {
		t.Fatalf("the claim of %s names node %q, want %s", rt.ContainerID, claim.Spec.Node, node)
	}
}

// expectInterruptedCopyHarmless copies half of the plugin over the
// installed one and fails, as a copy cut short by a full disk or a killed
// agent would: the installed plugin is still the whole binary, and runs.
func expectInterruptedCopyHarmless(t *testing.T, cfg nodeagent.Config, cni *libcni.CNIConfig) {
	t.Helper()
	source, err := os.ReadFile(cfg.PluginSource)
	if err != nil {
		t.Fatal(err)
	}
	installed := filepath.Join(cfg.CNIBinDir, nodeagent.PluginName)
	err = atomicfile.Write(installed, 0o755, func(w io.Writer) error {
		if _, err := w.Write(source[:len(source)/2]); err != nil {
			return err
		}
		return errors.New("the copy was cut short")
	})
	if err == nil {
		t.Fatal("the interrupted copy reported success")
	}
	if now, err := os.ReadFile(installed); err != nil || !bytes.Equal(now, source) {
		t.Fatalf("after an interrupted copy the installed plugin is %d bytes (%v), want the whole %d", len(now), err, len(source))
	}
	if _, err := cni.GetVersionInfo(context.Background(), nodeagent.PluginName); err != nil {
		t.Fatalf("the installed plugin no longer runs: %v", err)
	}
}

func kubeconfigToken(t *testing.T, path string) string {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg.BearerToken
}

func errString(err error) string {
	if err == nil {
		return "it succeeded"
	}
	return err.Error()
}
