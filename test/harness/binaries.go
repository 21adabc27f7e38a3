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

// BinDirEnv names the variable through which make test hands every test
// package the directory of the binaries it built once with make build, so
// that no package spends a build of its own.
const BinDirEnv = "IPKEEPER_BIN_DIR"

// packages are the project's binaries by name, and the packages they are
// built from.
var packages = map[string]string{
	"ipkeeper":       "./cni",
	"ipkeeper-agent": "./cni/agent",
	"manager":        ".",
	// The raw-create baseline of the benchmarks, which make build does not
	// build.
	"rawcreate": "./test/perf/rawcreate",
}

// Binaries are the project's binaries the tests execute, built static and
// stripped as make build builds them (which also stamps the version), so
// that the tests run what a node and the operator's image run.
type Binaries struct {
	// Dir holds the binaries under their names (ipkeeper, manager,
	// ipkeeper-agent): put it on the CNI_PATH for the plugin.
	Dir string
	// temp is the directory PrepareBinaries built into, which Remove
	// removes; empty when Dir came from BinDirEnv.
	temp string
}

// PrepareBinaries returns the binaries names in the directory BinDirEnv
// names, or, when it is unset, builds them into a temporary directory, so
// that a plain go test works too. Remove them with Binaries.Remove.
func PrepareBinaries(names ...string) (*Binaries, error) {
	if dir := os.Getenv(BinDirEnv); dir != "" {
		for _, name := range names {
			if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
				return nil, fmt.Errorf("find the %s binary make test built (%s=%s): %w", name, BinDirEnv, dir, err)
			}
		}
		return &Binaries{Dir: dir}, nil
	}
	temp, err := os.MkdirTemp("", "ipkeeper-bin-")
	if err != nil {
		return nil, fmt.Errorf("create a directory for the binaries: %w", err)
	}
	if err := Build(temp, names...); err != nil {
		return nil, errors.Join(err, os.RemoveAll(temp))
	}
	return &Binaries{Dir: temp, temp: temp}, nil
}

// Build builds the binaries names into dir, static and stripped as make
// build builds them.
func Build(dir string, names ...string) error {
	for _, name := range names {
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s", "-o", filepath.Join(dir, name), packages[name])
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		cmd.Dir = RepoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("build %s: %w: %s", name, err, out)
		}
	}
	return nil
}

// PreparePlugin returns the ipkeeper plugin binary, as PrepareBinaries.
func PreparePlugin() (*Binaries, error) {
	return PrepareBinaries("ipkeeper")
}

// Path returns the path of the binary name.
func (b *Binaries) Path(name string) string {
	return filepath.Join(b.Dir, name)
}

// Remove removes the binaries PrepareBinaries built; those make test built
// stay for the other packages.
func (b *Binaries) Remove() error {
	if b.temp == "" {
		return nil
	}
	return os.RemoveAll(b.temp)
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
