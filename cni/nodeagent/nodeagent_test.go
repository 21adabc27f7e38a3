package nodeagent

import (
	"context"
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
	n.cfg.NetworkConfigDir = filepath.Join(t.TempDir(), "network")
	if err := os.MkdirAll(filepath.Join(n.cfg.NetworkConfigDir, "..data"), 0o755); err != nil {
		t.Fatal(err)
	}
	n.write(t, filepath.Join(n.cfg.NetworkConfigDir, "10-pods.conflist"), `{"name":"pods"}`)
	n.write(t, filepath.Join(n.cfg.NetworkConfigDir, "README"), "not a network")
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
