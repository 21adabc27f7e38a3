package nodeagent

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"
)

// node is a node's file system as the agent's container sees it.
type node struct {
	cfg Config
}

func newNode(t *testing.T) *node {
	t.Helper()
	dir := t.TempDir()
	cfg := Config{
		NodeName: "node-a", Server: "https://10.96.0.1:443",
		TokenFile: filepath.Join(dir, "secrets", "token"), CAFile: filepath.Join(dir, "secrets", "ca.crt"),
		PluginSource: filepath.Join(dir, "image", "ipkeeper"),
		CNIBinDir:    filepath.Join(dir, "opt", "cni", "bin"), CNIConfDir: filepath.Join(dir, "etc", "cni", "net.d"),
		Interval: 10 * time.Millisecond,
	}
	for _, d := range []string{filepath.Dir(cfg.TokenFile), filepath.Dir(cfg.PluginSource), cfg.CNIBinDir, cfg.CNIConfDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	n := &node{cfg: cfg}
	n.write(t, cfg.TokenFile, "token-1\n")
	n.write(t, cfg.CAFile, "-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n")
	n.write(t, cfg.PluginSource, "plugin v1")
	return n
}

func (n *node) write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func nolog(string, ...any) {}

// token returns the token of the kubeconfig the agent wrote, after checking
// the file's mode and that it names the server and the CA.
func (n *node) token(t *testing.T) string {
	t.Helper()
	info, err := os.Stat(n.cfg.KubeconfigPath())
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Fatalf("kubeconfig mode %v, want 0600: it holds a credential", info.Mode())
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", n.cfg.KubeconfigPath())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != n.cfg.Server || !strings.Contains(string(cfg.CAData), "ca") {
		t.Fatalf("kubeconfig names %s with CA %q, want %s and the cluster CA", cfg.Host, cfg.CAData, n.cfg.Server)
	}
	return cfg.BearerToken
}

func TestSyncInstallsTheNodeSide(t *testing.T) {
	n := newNode(t)
	if err := Sync(n.cfg, nolog); err != nil {
		t.Fatal(err)
	}
	plugin := filepath.Join(n.cfg.CNIBinDir, PluginName)
	info, err := os.Stat(plugin)
	if data, _ := os.ReadFile(plugin); err != nil || string(data) != "plugin v1" || info.Mode().Perm() != 0o755 {
		t.Fatalf("plugin holds %q (mode %v, %v), want the image's plugin, executable", data, info.Mode(), err)
	}
	if data, _ := os.ReadFile(filepath.Join(filepath.Dir(n.cfg.KubeconfigPath()), "nodename")); string(data) != "node-a\n" {
		t.Fatalf("nodename holds %q, want node-a", data)
	}
	if got := n.token(t); got != "token-1" {
		t.Fatalf("kubeconfig token %q, want token-1", got)
	}
}

// TestRunFollowsTokenRotation rotates the token, as the kubelet does, and
// expects the kubeconfig rewritten; the agent stops when told and leaves
// everything in place.
func TestRunFollowsTokenRotation(t *testing.T) {
	n := newNode(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, n.cfg, nolog) }()
	waitFor(t, func() bool { _, err := os.Stat(n.cfg.KubeconfigPath()); return err == nil })
	n.write(t, n.cfg.TokenFile, "token-2")
	waitFor(t, func() bool { return n.token(t) == "token-2" })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run on stop = %v", err)
	}
	for _, p := range []string{n.cfg.KubeconfigPath(), filepath.Join(n.cfg.CNIBinDir, PluginName)} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s is gone after the agent stopped: %v", p, err)
		}
	}
}

func TestNetworkConfigsAreInstalled(t *testing.T) {
	n := newNode(t)
	// As the kubelet lays out a ConfigMap volume: the files live in a
	// hidden, versioned directory, reached through symbolic links.
	n.cfg.NetworkConfigDir = filepath.Join(t.TempDir(), "network")
	data := filepath.Join(n.cfg.NetworkConfigDir, "..2026_11_30_04_00_00.1")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	n.write(t, filepath.Join(data, "10-pods.conflist"), `{"name":"pods"}`)
	n.write(t, filepath.Join(data, "README"), "not a network")
	for _, link := range [][2]string{{filepath.Base(data), "..data"}, {"..data/10-pods.conflist", "10-pods.conflist"}, {"..data/README", "README"}} {
		if err := os.Symlink(link[0], filepath.Join(n.cfg.NetworkConfigDir, link[1])); err != nil {
			t.Fatal(err)
		}
	}
	if err := Sync(n.cfg, nolog); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(filepath.Join(n.cfg.CNIConfDir, "10-pods.conflist")); string(data) != `{"name":"pods"}` {
		t.Fatalf("10-pods.conflist holds %q", data)
	}
	if _, err := os.Stat(filepath.Join(n.cfg.CNIConfDir, "README")); err == nil {
		t.Fatal("a file that is no network configuration was installed")
	}
}

func TestBadConfigurationsSayWhatToDo(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"no node name", func(c *Config) { c.NodeName = "" }, "pass the node's name (spec.nodeName) in NODE_NAME"},
		{"no server", func(c *Config) { c.Server = "" }, "set --server, or run in a pod"},
		{"no token", func(c *Config) { c.TokenFile = "/nonexistent/token" }, "read the service-account token /nonexistent/token (projected by the kubelet)"},
		{"no interval", func(c *Config) { c.Interval = 0 }, "--interval must be a positive duration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newNode(t)
			tt.change(&n.cfg)
			err := Run(context.Background(), n.cfg, nolog)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Run = %v, want an error saying %q", err, tt.want)
			}
			if _, err := os.Stat(filepath.Join(n.cfg.CNIBinDir, PluginName)); err == nil && tt.name != "no token" {
				t.Fatal("a bad configuration installed the plugin")
			}
		})
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestNewerAgentTakesOver runs the old and the new agent of a rolling
// update side by side on one node, each with its own pod's token: the
// newer takes over and is Ready, the old one stops writing (even when its
// token rotates) and is not Ready, so the node's kubeconfig keeps the
// token that outlives the old pod.
func TestNewerAgentTakesOver(t *testing.T) {
	n := newNode(t)
	old := n.cfg
	old.Version = Version{Generation: 1}
	newer := old
	newer.Version, newer.TokenFile = Version{Generation: 2}, filepath.Join(filepath.Dir(old.TokenFile), "token-new")
	n.write(t, newer.TokenFile, "token-new")

	stopOld := runAgent(t, old)
	defer stopOld()
	waitFor(t, func() bool { return n.holds(t, "token-1") })
	if err := Ready(old); err != nil {
		t.Fatalf("the only agent is not Ready: %v", err)
	}
	stopNew := runAgent(t, newer)
	waitFor(t, func() bool { return n.holds(t, "token-new") })
	if err := Ready(newer); err != nil {
		t.Fatalf("the newer agent is not Ready: %v", err)
	}
	// With the newer agent stopped, nothing would put its token back.
	stopNew()
	n.write(t, old.TokenFile, "token-1-rotated")
	time.Sleep(10 * old.Interval)
	if got := n.token(t); got != "token-new" {
		t.Fatalf("the old agent wrote its token back: %q", got)
	}
	if err := Ready(old); err == nil {
		t.Fatal("the superseded agent reports Ready")
	}
}

// TestOlderAgentStartingLateWritesNothing starts an agent of an older
// generation (its container restarted during a rolling update) on a node a
// newer agent owns: it runs without writing and without failing.
func TestOlderAgentStartingLateWritesNothing(t *testing.T) {
	n := newNode(t)
	newer := n.cfg
	newer.Version = Version{Generation: 3}
	stopNew := runAgent(t, newer)
	waitFor(t, func() bool { return n.holds(t, "token-1") })
	stopNew() // so that nothing would put its token back
	old := newer
	old.Version, old.TokenFile = Version{Generation: 2}, filepath.Join(filepath.Dir(newer.TokenFile), "token-old")
	n.write(t, old.TokenFile, "token-old")
	stopOld := runAgent(t, old)
	defer stopOld()
	time.Sleep(10 * old.Interval)
	if got := n.token(t); got != "token-1" {
		t.Fatalf("the older agent overwrote the kubeconfig: %q", got)
	}
}

// TestAgentOfANewDaemonSetTakesOver runs, on a node whose last agent
// belonged to a DaemonSet at generation 5, the agent of the DaemonSet
// created after it was deleted, at generation 1: it writes, since the old
// agent's token died with its pod. An agent of the old DaemonSet that
// comes back (generation 6) writes nothing.
func TestAgentOfANewDaemonSetTakesOver(t *testing.T) {
	n := newNode(t)
	gone := n.cfg
	gone.Version = Version{Epoch: 100, Generation: 5}
	stopGone := runAgent(t, gone)
	waitFor(t, func() bool { return n.holds(t, "token-1") })
	stopGone()

	recreated := gone
	recreated.Version, recreated.TokenFile = Version{Epoch: 200, Generation: 1}, filepath.Join(filepath.Dir(gone.TokenFile), "token-new")
	n.write(t, recreated.TokenFile, "token-new")
	stopRecreated := runAgent(t, recreated)
	waitFor(t, func() bool { return n.holds(t, "token-new") })
	if err := Ready(recreated); err != nil {
		t.Fatalf("the agent of the new DaemonSet is not Ready: %v", err)
	}
	stopRecreated()

	late := gone
	late.Version = Version{Epoch: 100, Generation: 6}
	if err := Sync(late, nolog); !errors.Is(err, ErrSuperseded) {
		t.Fatalf("an agent of the deleted DaemonSet synced: %v, want ErrSuperseded", err)
	}
	if got := n.token(t); got != "token-new" {
		t.Fatalf("the agent of the deleted DaemonSet wrote its token: %q", got)
	}
}

// holds reports whether the kubeconfig exists and holds token.
func (n *node) holds(t *testing.T, token string) bool {
	t.Helper()
	if _, err := os.Stat(n.cfg.KubeconfigPath()); err != nil {
		return false
	}
	return n.token(t) == token
}

// runAgent runs the agent until the returned function is called, and
// fails the test if it stops with an error.
func runAgent(t *testing.T, cfg Config) func() {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg, nolog) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("agent of version %s: %v", cfg.Version, err)
		}
	}
}
