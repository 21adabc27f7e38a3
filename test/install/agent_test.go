package install

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containernetworking/cni/libcni"
	current "github.com/containernetworking/cni/pkg/types/100"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
	"github.com/ipkeeper/ipkeeper/cni/cnierr"
	"github.com/ipkeeper/ipkeeper/cni/ipamtest"
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
	a.stop = sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("the node agent stopped with %v", err)
		}
	})
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
		if !ipamtest.IsCNIError(err, cnierr.Denied, "credentials bound to node node-a may only write IPClaims of node node-a") {
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

	expectInterruptedCopyHarmless(t, agent, cni)
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

// expectInterruptedCopyHarmless stops the node agent and runs its binary,
// as its next pod would, to install a new plugin under a file-size limit
// of half the new binary: its copy fails halfway, as one cut short by a
// full disk would. The installed plugin is still the whole old binary, and
// runs; the agent leaves no partial file, says what failed and exits.
func expectInterruptedCopyHarmless(t *testing.T, a *agentNode, cni *libcni.CNIConfig) {
	t.Helper()
	a.stop()
	installed := filepath.Join(a.cfg.CNIBinDir, nodeagent.PluginName)
	old, err := os.ReadFile(installed)
	if err != nil {
		t.Fatal(err)
	}
	upgrade := a.cfg
	upgrade.PluginSource = filepath.Join(t.TempDir(), "ipkeeper-v2")
	if err := os.WriteFile(upgrade.PluginSource, append(bytes.Clone(old), make([]byte, 4096)...), 0o755); err != nil {
		t.Fatal(err)
	}
	bins, err := harness.PrepareBinaries("ipkeeper-agent")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bins.Remove() })
	agent := harness.NodeAgentCommand(bins.Path("ipkeeper-agent"), upgrade).Args
	// bash's ulimit -f counts KiB; Go ignores SIGXFSZ, so the write fails
	// with EFBIG.
	limit := strconv.Itoa(len(old) / 2 / 1024)
	limited := exec.Command("bash", append([]string{"-c", `ulimit -f "$1" && shift && exec "$@"`, "limit", limit}, agent...)...)
	// As after any failure of its first installation, the agent exits so
	// that its pod restarts and shows why.
	run := harness.StartCommand(t, limited)
	var exit *exec.ExitError
	if err := run.Wait(10 * time.Second); !errors.As(err, &exit) || exit.ExitCode() <= 0 {
		t.Errorf("the node agent, its copy failed: %v; want it to exit with a status:\n%s", err, run.Output())
	}
	if log := run.Output(); !strings.Contains(log, "install the plugin") || !strings.Contains(log, "file too large") {
		t.Errorf("the agent's log does not say the plugin's copy failed:\n%s", log)
	}
	if now, err := os.ReadFile(installed); err != nil || !bytes.Equal(now, old) {
		t.Fatalf("after an interrupted copy the installed plugin is %d bytes (%v), want the old %d", len(now), err, len(old))
	}
	if _, err := cni.GetVersionInfo(context.Background(), nodeagent.PluginName); err != nil {
		t.Fatalf("the installed plugin no longer runs: %v", err)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(a.cfg.CNIBinDir, ".*")); len(leftovers) > 0 {
		t.Errorf("the interrupted copy left %v", leftovers)
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
