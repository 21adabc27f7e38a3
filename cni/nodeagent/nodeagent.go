// Package nodeagent puts the node side of ipkeeper on a node: the CNI plugin
// binary, the plugin's kubeconfig and node name, and optionally a network
// configuration. It runs in the node agent's pod, one per node, and is the
// only holder of the plugin's credential: a service-account token that the
// kubelet projects into the pod, bound to the pod and so to its node, which
// the node-claims admission policy keeps to that node's claims.
//
// Everything is written atomically and only when it changed, and nothing is
// removed when the agent stops. The token works for as long as the agent's
// pod exists, through restarts of its container; when the pod goes, the
// token stops working. So a rolling update starts the new agent beside the
// old one, the old one stops writing once the newer one has taken over,
// and the old pod is removed only when the new agent is ready (Ready): a
// node always has a working plugin.
package nodeagent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/ipkeeper/ipkeeper/cni/atomicfile"
	"github.com/ipkeeper/ipkeeper/cni/netconf"
)

// Names of what the agent writes on the node.
const (
	// PluginName is the plugin binary's name in the CNI binary directory:
	// the "type" of the ipam section.
	PluginName = "ipkeeper"
	// KubeconfigDirName is the directory, inside the CNI configuration
	// directory, that holds the kubeconfig and the node name.
	KubeconfigDirName = "ipkeeper.d"
	// KubeconfigName is the kubeconfig's name in it.
	KubeconfigName = "ipkeeper.kubeconfig"
	// authInfoName names the plugin's user in the kubeconfig.
	authInfoName = "ipkeeper-node"
)

// Config says where the agent reads and writes. Paths are as the agent's
// container sees them: the node's directories are mounted into it.
type Config struct {
	// NodeName is the node the agent runs on.
	NodeName string
	// Server is the API server's URL the plugin talks to.
	Server string
	// TokenFile and CAFile are the projected service-account token and the
	// cluster's CA certificate.
	TokenFile, CAFile string
	// PluginSource is the plugin binary to install.
	PluginSource string
	// CNIBinDir is the node's CNI binary directory.
	CNIBinDir string
	// CNIConfDir is the node's CNI configuration directory.
	CNIConfDir string
	// NetworkConfigDir, when set, holds network configurations (*.conf,
	// *.conflist) to install into CNIConfDir: a mounted ConfigMap.
	NetworkConfigDir string
	// Interval is how often the agent looks for a rotated token, a changed
	// CA or network configuration.
	Interval time.Duration
	// Version is the agent's place among the agents of its node. A rolling
	// update starts the new agent beside the old one; only the newest
	// agent on a node writes.
	Version Version
}

// Check says what is wrong with the configuration, if anything.
func (c Config) Check() error {
	var errs []error
	if msgs := validation.IsDNS1123Subdomain(c.NodeName); len(msgs) > 0 {
		errs = append(errs, fmt.Errorf("node name %q is not a Kubernetes node name (%s): pass the node's name (spec.nodeName) in NODE_NAME", c.NodeName, strings.Join(msgs, "; ")))
	}
	if c.Server == "" {
		errs = append(errs, errors.New("no API server address: set --server, or run in a pod, where KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are set"))
	}
	for _, p := range []struct{ flag, path string }{
		{"--token-file", c.TokenFile}, {"--ca-file", c.CAFile}, {"--plugin", c.PluginSource},
		{"--cni-bin-dir", c.CNIBinDir}, {"--cni-conf-dir", c.CNIConfDir},
	} {
		if p.path == "" {
			errs = append(errs, fmt.Errorf("%s is empty: give a path", p.flag))
		}
	}
	if c.Interval <= 0 {
		errs = append(errs, errors.New("--interval must be a positive duration such as 10s"))
	}
	return errors.Join(errs...)
}

// KubeconfigPath returns where the plugin's kubeconfig goes.
func (c Config) KubeconfigPath() string {
	return filepath.Join(c.CNIConfDir, KubeconfigDirName, KubeconfigName)
}

// Run installs everything, then keeps it current until ctx ends. It fails
// at once when the first installation fails, so that the pod restarts and
// its status shows the problem; later failures are retried at the next
// interval. It removes nothing when it returns.
func Run(ctx context.Context, cfg Config, log func(msg string, keysAndValues ...any)) error {
	if err := cfg.Check(); err != nil {
		return err
	}
	if err := atomicfile.RemoveLeftovers(cfg.CNIBinDir); err != nil {
		log("Cannot remove leftovers of an interrupted copy", "dir", cfg.CNIBinDir, "error", err)
	}
	superseded := false
	if err := Sync(cfg, log); err != nil {
		if !errors.Is(err, ErrSuperseded) {
			return err
		}
		superseded = true
		log("Not writing: "+err.Error(), "node", cfg.NodeName)
	}
	ticker := time.NewTicker(cfg.Interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			log("Stopping; the plugin, its kubeconfig and the network configuration stay on the node")
			return nil
		case <-ticker.C:
		}
		err := Sync(cfg, log)
		switch {
		case errors.Is(err, ErrSuperseded):
			if !superseded {
				log("Stopping writing: "+err.Error(), "node", cfg.NodeName)
			}
			superseded = true
		case err != nil:
			log("Cannot bring the node side up to date; retrying", "after", cfg.Interval, "error", err)
		}
	}
}

// Sync writes what is missing or changed: the plugin binary, the node name,
// the kubeconfig and the network configurations. It writes nothing, and
// returns ErrSuperseded, when a newer agent owns the node side.
func Sync(cfg Config, log func(msg string, keysAndValues ...any)) error {
	dir := filepath.Dir(cfg.KubeconfigPath())
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	kubeconfig, err := buildKubeconfig(cfg)
	if err != nil {
		return err
	}
	unlock, err := owning(dir, cfg.Version)
	if err != nil {
		return err
	}
	defer unlock()
	steps := []struct {
		what  string
		write func() (bool, error)
	}{
		{"plugin", func() (bool, error) {
			return atomicfile.Copy(cfg.PluginSource, filepath.Join(cfg.CNIBinDir, PluginName), 0o755)
		}},
		{"node name", func() (bool, error) {
			return atomicfile.WriteBytes(filepath.Join(filepath.Dir(cfg.KubeconfigPath()), netconf.NodeNameFile), 0o644, []byte(cfg.NodeName+"\n"))
		}},
		{"kubeconfig", func() (bool, error) { return atomicfile.WriteBytes(cfg.KubeconfigPath(), 0o600, kubeconfig) }},
		{"network configuration", func() (bool, error) { return installNetworkConfigs(cfg) }},
	}
	for _, s := range steps {
		wrote, err := s.write()
		if err != nil {
			return fmt.Errorf("install the %s: %w", s.what, err)
		}
		if wrote {
			log("Installed", "what", s.what)
		}
	}
	return nil
}

// Ready says whether this agent's work is in place on the node: the plugin
// is installed and its kubeconfig holds this agent's current token. It is
// the agent's readiness check: a rolling update stops the old agent, and
// its pod's token stops working, only once the new one is ready.
func Ready(cfg Config) error {
	if _, err := os.Stat(filepath.Join(cfg.CNIBinDir, PluginName)); err != nil {
		return fmt.Errorf("the plugin is not installed: %w", err)
	}
	want, err := os.ReadFile(cfg.TokenFile)
	if err != nil {
		return fmt.Errorf("read the token: %w", err)
	}
	kc, err := clientcmd.LoadFromFile(cfg.KubeconfigPath())
	if err != nil {
		return fmt.Errorf("read the plugin's kubeconfig: %w", err)
	}
	if user := kc.AuthInfos[authInfoName]; user == nil || user.Token != strings.TrimSpace(string(want)) {
		return errors.New("the plugin's kubeconfig does not hold this agent's token (yet)")
	}
	return nil
}

// buildKubeconfig returns the plugin's kubeconfig: the server, the CA and
// the token as they are now, inline, since the plugin on the host cannot
// read the agent's pod volume.
func buildKubeconfig(cfg Config) ([]byte, error) {
	token, err := os.ReadFile(cfg.TokenFile)
	if err != nil || len(strings.TrimSpace(string(token))) == 0 {
		return nil, fmt.Errorf("read the service-account token %s (projected by the kubelet): %w", cfg.TokenFile, errOrEmpty(err))
	}
	ca, err := os.ReadFile(cfg.CAFile)
	if err != nil || len(ca) == 0 {
		return nil, fmt.Errorf("read the cluster CA %s: %w", cfg.CAFile, errOrEmpty(err))
	}
	kc := clientcmdapi.NewConfig()
	kc.Clusters["cluster"] = &clientcmdapi.Cluster{Server: cfg.Server, CertificateAuthorityData: ca}
	kc.AuthInfos[authInfoName] = &clientcmdapi.AuthInfo{Token: strings.TrimSpace(string(token))}
	kc.Contexts["ipkeeper"] = &clientcmdapi.Context{Cluster: "cluster", AuthInfo: authInfoName}
	kc.CurrentContext = "ipkeeper"
	data, err := clientcmd.Write(*kc)
	if err != nil {
		return nil, fmt.Errorf("build the plugin's kubeconfig: %w", err)
	}
	return data, nil
}

func errOrEmpty(err error) error {
	if err != nil {
		return err
	}
	return errors.New("the file is empty")
}

// installNetworkConfigs copies the network configurations of
// NetworkConfigDir into CNIConfDir. Files that disappear from the source
// stay on the node: removing a network configuration under running pods is
// a decision for a person.
func installNetworkConfigs(cfg Config) (bool, error) {
	if cfg.NetworkConfigDir == "" {
		return false, nil
	}
	entries, err := os.ReadDir(cfg.NetworkConfigDir)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil // the ConfigMap is optional
	}
	if err != nil {
		return false, fmt.Errorf("read %s: %w", cfg.NetworkConfigDir, err)
	}
	wrote := false
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") || !isNetworkConfig(name) {
			continue
		}
		w, err := atomicfile.Copy(filepath.Join(cfg.NetworkConfigDir, name), filepath.Join(cfg.CNIConfDir, name), 0o644)
		if err != nil {
			return wrote, err
		}
		wrote = wrote || w
	}
	return wrote, nil
}

// isNetworkConfig reports whether a file name is one a container runtime
// loads from the CNI configuration directory.
func isNetworkConfig(name string) bool {
	switch filepath.Ext(name) {
	case ".conf", ".conflist", ".json":
		return true
	}
	return false
}
