package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/containernetworking/cni/libcni"
	current "github.com/containernetworking/cni/pkg/types/100"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ipkeeper/ipkeeper/cni/nodeagent"
	"github.com/ipkeeper/ipkeeper/test/harness"
)

// nodeNames are the simulated nodes.
var nodeNames = []string{"node-a", "node-b", "node-c"}

// tokenLifetime is the lifetime of the node agents' tokens, as the kubelet
// projects them; the demo renews them at 80% of it, as the kubelet does.
const tokenLifetime = 3600

// simNode is a simulated node: a directory standing for its file system,
// the node agent running on it, and its container runtime's CNI.
type simNode struct {
	name string
	dir  string
	// agentPod is the node agent's pod, which its token is bound to.
	agentPod *corev1.Pod
	agent    *exec.Cmd
	cfg      nodeagent.Config
	cni      *libcni.CNIConfig
	network  *libcni.NetworkConfigList
}

// startNodes registers the nodes and starts the node agent's binary on
// each, as its DaemonSet pod would run it, with a token bound to that pod.
func (d *demo) startNodes(ctx context.Context) error {
	for _, name := range nodeNames {
		n, err := d.startNode(ctx, name)
		if err != nil {
			return fatal(err)
		}
		d.nodes = append(d.nodes, n)
	}
	go d.renewTokens(ctx)
	a := d.nodes[0]
	d.say("What the node agent wrote on %s (under %s):", a.name, a.dir)
	for _, p := range []string{filepath.Join(a.cfg.CNIBinDir, nodeagent.PluginName), a.cfg.KubeconfigPath(), filepath.Join(filepath.Dir(a.cfg.KubeconfigPath()), "nodename")} {
		info, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("the node agent did not write %s: %w", p, err)
		}
		d.say("  %s  %s", info.Mode().Perm(), strings.TrimPrefix(p, a.dir))
	}
	return nil
}

func (d *demo) startNode(ctx context.Context, name string) (*simNode, error) {
	if err := d.env.Client.Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
		return nil, fmt.Errorf("register node %s: %w", name, err)
	}
	pod, err := harness.NewNodeAgentPod(ctx, d.env.Client, "ipkeeper-node-agent-"+name, name)
	if err != nil {
		return nil, err
	}
	n := newSimNode(filepath.Join(d.dir, "nodes", name), name, d.env.Config.Host, d.bins.Path("ipkeeper"))
	n.agentPod = pod
	if err := d.writeToken(n); err != nil {
		return nil, err
	}
	if err := os.WriteFile(n.cfg.CAFile, d.env.Config.CAData, 0o644); err != nil {
		return nil, err
	}
	if err := n.startAgent(d.bins.Path("ipkeeper-agent"), filepath.Join(d.dir, "agent-"+name+".log")); err != nil {
		return nil, err
	}
	err = poll(ctx, 15*time.Second, func() error { _, err := os.Stat(n.cfg.KubeconfigPath()); return err })
	if err != nil {
		// The demo stops only the agents of the nodes it was given.
		n.stopAgent()
		return nil, fmt.Errorf("the node agent of %s wrote no kubeconfig: %w", name, err)
	}
	return n, nil
}

// newSimNode lays out a node's file system under dir.
func newSimNode(dir, name, server, plugin string) *simNode {
	cfg := nodeagent.Config{
		NodeName: name, Server: server,
		TokenFile: filepath.Join(dir, "agent", "token"), CAFile: filepath.Join(dir, "agent", "ca.crt"),
		PluginSource: plugin,
		CNIBinDir:    filepath.Join(dir, "opt", "cni", "bin"), CNIConfDir: filepath.Join(dir, "etc", "cni", "net.d"),
		Interval: time.Second,
	}
	ipam := map[string]any{
		"type": "ipkeeper", "pools": []string{"default-v4", "default-v6"},
		"kubeconfig": cfg.KubeconfigPath(), "dataDir": filepath.Join(dir, "var", "lib", "cni", "ipkeeper"),
	}
	return &simNode{
		name: name, dir: dir, cfg: cfg,
		cni:     libcni.NewCNIConfigWithCacheDir([]string{cfg.CNIBinDir}, filepath.Join(dir, "var", "lib", "cni", "cache"), nil),
		network: harness.IPAMNetwork("pods", ipam),
	}
}

// startAgent runs the node agent's binary for n, its log into logPath.
func (n *simNode) startAgent(binary, logPath string) error {
	for _, dir := range []string{filepath.Dir(n.cfg.TokenFile), n.cfg.CNIBinDir, n.cfg.CNIConfDir} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	log, err := os.Create(logPath)
	if err != nil {
		return err
	}
	n.agent = harness.NodeAgentCommand(binary, n.cfg)
	n.agent.Stdout, n.agent.Stderr = log, log
	// Its own process group: Ctrl-C reaches the demo, which stops it.
	n.agent.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return n.agent.Start()
}

// stopAgent stops the node agent as the kubelet does, with SIGTERM.
func (n *simNode) stopAgent() {
	if n.agent == nil || n.agent.Process == nil {
		return
	}
	_ = n.agent.Process.Signal(syscall.SIGTERM)
	_ = n.agent.Wait()
}

// writeToken writes a token bound to the node agent's pod where the
// kubelet projects it.
func (d *demo) writeToken(n *simNode) error {
	token, err := harness.RequestBoundToken(context.Background(), d.env.Client, n.agentPod, tokenLifetime)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(n.cfg.TokenFile), 0o700); err != nil {
		return err
	}
	return os.WriteFile(n.cfg.TokenFile, []byte(token), 0o600)
}

// renewTokens renews the node agents' tokens at 80% of their lifetime, as
// the kubelet does, until ctx ends; the agents rewrite the kubeconfigs.
func (d *demo) renewTokens(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(tokenLifetime * time.Second * 8 / 10):
		}
		for _, n := range d.nodes {
			if err := d.writeToken(n); err != nil {
				d.say("cannot renew the token of %s: %v", n.name, err)
			}
		}
	}
}

// podSandbox is a pod the demo gave addresses to.
type podSandbox struct {
	pod  *corev1.Pod
	node *simNode
	rt   *libcni.RuntimeConf
	ips  []string
}

// givePodsAddresses creates two pods per node and runs the plugin's ADD
// for each on its node, with the kubeconfig the node agent wrote.
func (d *demo) givePodsAddresses(ctx context.Context) error {
	for i := range 2 * len(d.nodes) {
		n := d.nodes[i%len(d.nodes)]
		p, err := d.addPod(ctx, fmt.Sprintf("web-%d", i), n)
		if err != nil {
			return fatal(err)
		}
		d.say("pod default/%s on %s: %s", p.pod.Name, n.name, strings.Join(p.ips, ", "))
	}
	return nil
}

// addPod creates a pod on n and runs the plugin's ADD for its sandbox.
func (d *demo) addPod(ctx context.Context, name string, n *simNode) (*podSandbox, error) {
	pod := harness.Pod(metav1.NamespaceDefault, name, nil)
	pod.Spec.NodeName = n.name
	if err := d.env.Client.Create(ctx, pod); err != nil {
		return nil, fmt.Errorf("create pod %s: %w", name, err)
	}
	rt := harness.RuntimeConf("sandbox-"+name, pod)
	res, err := n.cni.AddNetworkList(ctx, n.network, rt)
	if err != nil {
		return nil, fmt.Errorf("ADD for pod %s on %s: %w", name, n.name, err)
	}
	result, err := current.NewResultFromResult(res)
	if err != nil {
		return nil, err
	}
	p := &podSandbox{pod: pod, node: n, rt: rt}
	for _, ip := range result.IPs {
		p.ips = append(p.ips, ip.Address.String())
	}
	if len(p.ips) != 2 {
		return nil, fmt.Errorf("pod %s got %v, want one IPv4 and one IPv6 address", name, p.ips)
	}
	d.pods = append(d.pods, p)
	return p, nil
}
