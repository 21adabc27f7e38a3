package harness

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
)

// Options choose what Start installs besides the CRDs.
type Options struct {
	// Webhooks installs config/webhook with a generated serving certificate;
	// the test then serves the webhooks on Env.WebhookOptions().
	Webhooks bool
	// CRDDirs hold more CRDs to install, such as cert-manager's.
	CRDDirs []string
}

// Env is a running control plane.
type Env struct {
	env *envtest.Environment
	// Config is an administrator's client configuration.
	Config *rest.Config
	// Client is an administrator's client that knows ipkeeper's kinds.
	Client client.Client
	// Scheme knows the built-in kinds and ipkeeper's.
	Scheme *k8sruntime.Scheme

	mu       sync.Mutex
	managers []*Manager
}

// RepoRoot returns the root of the ipkeeper checkout.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// startTimeout bounds each step of starting the control plane.
const startTimeout = 2 * time.Minute

// Start starts kube-apiserver and etcd with ipkeeper's CRDs installed. Stop
// it with Env.Stop.
func Start(opts Options) (*Env, error) {
	assets, err := assetsDir()
	if err != nil {
		return nil, err
	}
	scheme := k8sruntime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if err := ipamv1alpha1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	root := RepoRoot()
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     append([]string{filepath.Join(root, "config", "crd", "bases")}, opts.CRDDirs...),
		ErrorIfCRDPathMissing: true,
		Scheme:                scheme,
		// envtest's defaults (20s to start, 10s for CRDs and webhooks) are
		// short when test packages start their control planes side by side
		// on two cores.
		ControlPlaneStartTimeout: startTimeout,
		CRDInstallOptions:        envtest.CRDInstallOptions{MaxTime: startTimeout},
	}
	env.WebhookInstallOptions.MaxTime = startTimeout
	harden(env, root)
	if opts.Webhooks {
		env.WebhookInstallOptions.Paths = []string{filepath.Join(root, "config", "webhook")}
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("start kube-apiserver and etcd from %s: %w", assets, err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		_ = env.Stop()
		return nil, fmt.Errorf("create client: %w", err)
	}
	return &Env{env: env, Config: cfg, Client: c, Scheme: scheme}, nil
}

// harden makes the API server admit what hardened clusters (OpenShift
// among them) admit: a change of an object's owner references only from a
// writer that may delete the object, one that blocks the deletion of its
// owner only from a writer that may update the owner's finalizers, and
// pods that meet the baseline Pod Security Standard unless their namespace
// allows more.
func harden(env *envtest.Environment, root string) {
	apiserver := env.ControlPlane.GetAPIServer().Configure()
	apiserver.Append("enable-admission-plugins", "OwnerReferencesPermissionEnforcement")
	apiserver.Append("admission-control-config-file", filepath.Join(root, "test", "harness", "testdata", "admission.yaml"))
}

// WebhookOptions returns where the API server expects the webhook server:
// host, port and the directory holding its serving certificate.
func (e *Env) WebhookOptions() envtest.WebhookInstallOptions {
	return e.env.WebhookInstallOptions
}

// Stop stops the managers started on e that still run, newest first, so
// that none outlives the API server it watches, then the control plane.
func (e *Env) Stop() error {
	e.mu.Lock()
	managers := e.managers
	e.managers = nil
	e.mu.Unlock()
	var errs []error
	for i := len(managers) - 1; i >= 0; i-- {
		if err := managers[i].Stop(); err != nil {
			errs = append(errs, fmt.Errorf("stop manager: %w", err))
		}
	}
	return errors.Join(append(errs, e.env.Stop())...)
}

// assetsDir returns KUBEBUILDER_ASSETS, or builds the binaries (a no-op once
// they are cached) so that a plain `go test` works too.
func assetsDir() (string, error) {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		return dir, nil
	}
	return buildAssets("envtest")
}

// CNIPluginsDir returns CNI_PLUGINS_DIR, or builds the reference CNI plugins
// (a no-op once they are cached).
func CNIPluginsDir() (string, error) {
	if dir := os.Getenv("CNI_PLUGINS_DIR"); dir != "" {
		return dir, nil
	}
	return buildAssets("cni-plugins")
}

// CertManagerCRDs returns CERT_MANAGER_CRDS, or the directory of
// cert-manager's CRDs in its Go module, downloaded from the module proxy.
func CertManagerCRDs() (string, error) {
	if dir := os.Getenv("CERT_MANAGER_CRDS"); dir != "" {
		return dir, nil
	}
	return buildAssets("cert-manager-crds")
}

func buildAssets(kind string) (string, error) {
	script := filepath.Join(RepoRoot(), "hack", "test-assets.sh")
	cmd := exec.Command(script, kind)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("build test binaries with %s %s (or run make test): %w", script, kind, err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1], nil
}
