package harness

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// PluginDirEnv names the variable through which make test hands every test
// package the directory of the plugin it built once, so that no package
// spends a build of its own.
const PluginDirEnv = "IPKEEPER_PLUGIN_DIR"

// Plugin is the ipkeeper CNI plugin binary the tests execute, built as the
// image builds it (static, stripped), so that they run the binary a node
// would.
type Plugin struct {
	// Dir holds the binary, named ipkeeper: put it on the CNI_PATH.
	Dir string
	// temp is the directory PreparePlugin built into, which Remove removes;
	// empty when Dir came from PluginDirEnv.
	temp string
}

// PreparePlugin returns the plugin in the directory PluginDirEnv names, or,
// when it is unset, builds one into a temporary directory, so that a plain
// go test works too. Remove it with Plugin.Remove.
func PreparePlugin() (*Plugin, error) {
	if dir := os.Getenv(PluginDirEnv); dir != "" {
		if _, err := os.Stat(filepath.Join(dir, "ipkeeper")); err != nil {
			return nil, fmt.Errorf("find the plugin make test built (%s=%s): %w", PluginDirEnv, dir, err)
		}
		return &Plugin{Dir: dir}, nil
	}
	temp, err := os.MkdirTemp("", "ipkeeper-plugin-")
	if err != nil {
		return nil, fmt.Errorf("create a directory for the plugin: %w", err)
	}
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s", "-o", filepath.Join(temp, "ipkeeper"), "./cni")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	cmd.Dir = RepoRoot()
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return nil, errors.Join(fmt.Errorf("build the ipkeeper plugin: %w", err), os.RemoveAll(temp))
	}
	return &Plugin{Dir: temp, temp: temp}, nil
}

// Remove removes the plugin PreparePlugin built; the one make test built
// stays for the other packages.
func (p *Plugin) Remove() error {
	if p.temp == "" {
		return nil
	}
	return os.RemoveAll(p.temp)
}

// WriteKubeconfig writes a kubeconfig for cfg to path, as a node's plugin
// reads it.
func WriteKubeconfig(cfg *rest.Config, path string) error {
	kc := clientcmdapi.NewConfig()
	kc.Clusters["envtest"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["envtest"] = &clientcmdapi.AuthInfo{
		ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken,
	}
	kc.Contexts["envtest"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "envtest"}
	kc.CurrentContext = "envtest"
	return clientcmd.WriteToFile(*kc, path)
}
