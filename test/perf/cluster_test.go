package perf

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containernetworking/cni/libcni"
	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
	"github.com/ipkeeper/ipkeeper/test/harness"
)

const (
	// simNodes is how many simulated nodes the allocation benchmarks use,
	// as in the published benchmark of 1000 pods on 10 nodes.
	simNodes = 10
	// benchNamespace holds the pod whose sandboxes the ADDs are for.
	benchNamespace = "bench"
	// tokenLifetime outlasts the longest benchmark: the nodes' credentials
	// must not expire halfway.
	tokenLifetime = 2 * time.Hour
	// waitTimeout bounds the waits for the operator and the API server:
	// a pool Ready, the admission policy in force.
	waitTimeout = 60 * time.Second
	// rawcreateName is the baseline binary's name and CNI type.
	rawcreateName = "rawcreate"
)

// binaries are the programs the benchmarks execute: the plugin and the
// manager as make build builds them (package harness), and the baseline
// rawcreate, which the benchmarks build themselves.
type binaries struct {
	project *harness.Binaries
	// temp holds rawcreate.
	temp string
	// path is the CNI_PATH: the plugin's directory, then rawcreate's.
	path []string
}

// Path returns the path of the binary name.
func (b *binaries) Path(name string) string {
	if name == rawcreateName {
		return filepath.Join(b.temp, name)
	}
	return b.project.Path(name)
}

var (
	binariesOnce sync.Once
	sharedBins   *binaries
	binariesErr  error
)

// needBinaries returns the binaries, preparing them on first use; TestMain
// removes them.
func needBinaries(b *testing.B) *binaries {
	b.Helper()
	if testing.Short() {
		b.Skip("end-to-end benchmarks start a control plane and exec binaries; skipped with -short")
	}
	binariesOnce.Do(func() { sharedBins, binariesErr = prepareBinaries() })
	if binariesErr != nil {
		b.Fatal(binariesErr)
	}
	return sharedBins
}

func prepareBinaries() (*binaries, error) {
	project, err := harness.PrepareBinaries("ipkeeper", "manager")
	if err != nil {
		return nil, err
	}
	temp, err := os.MkdirTemp("", "ipkeeper-rawcreate-")
	if err != nil {
		return nil, errors.Join(err, project.Remove())
	}
	bins := &binaries{project: project, temp: temp, path: []string{project.Dir, temp}}
	// Built as the plugin is built, so that neither starts faster for its
	// build.
	if err := harness.Build(temp, rawcreateName); err != nil {
		return nil, errors.Join(err, bins.remove())
	}
	return bins, nil
}

func (b *binaries) remove() error {
	return errors.Join(b.project.Remove(), os.RemoveAll(b.temp))
}

// stopShared removes what the benchmarks built.
func stopShared() error {
	if sharedBins == nil {
		return nil
	}
	return sharedBins.remove()
}

// cluster is the control plane of one benchmark, installed as
// config/default installs the node side: the CRDs, the webhook
// configuration (served by the real manager binary, run as a process), the
// RBAC and the node-claims admission policy, and simulated nodes whose
// plugin authenticates with a token bound to a node agent pod on the node.
// Each benchmark starts its own and stops it when it ends, so that what
// one benchmark leaves in etcd never weighs on the next.
type cluster struct {
	*binaries
	env     *harness.Env
	manager *harness.ManagerProcess
	dir     string
	pod     *corev1.Pod
	nodes   []*simNode
}

// clusterOptions choose what startCluster sets up.
type clusterOptions struct {
	// nodes are the names of the simulated nodes.
	nodes []string
	// pools are created and awaited Ready.
	pools map[string]ipamv1alpha1.IPPoolSpec
	// managerArgs are more flags of the manager.
	managerArgs []string
}

// startCluster starts a control plane for b, stopped when b ends.
func startCluster(b *testing.B, opts clusterOptions) *cluster {
	b.Helper()
	bins := needBinaries(b)
	// client-go's and controller-runtime's log lines would land amid the
	// benchmark lines; failures show as errors.
	ctrl.SetLogger(logr.Discard())
	env, err := harness.Start(harness.Options{Webhooks: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := env.Stop(); err != nil {
			b.Error(err)
		}
	})
	c := &cluster{binaries: bins, env: env, dir: b.TempDir()}
	env.InstallRendered(b, "Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding",
		"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding")
	c.startManager(b, nil, opts.managerArgs...)
	env.CreateNamespace(b, benchNamespace, nil)
	c.pod = harness.Pod(benchNamespace, "bench-pod", nil)
	if err := env.Client.Create(context.Background(), c.pod); err != nil {
		b.Fatal(err)
	}
	// Pools and their claims go with the control plane: deleting them one
	// by one at the end would only cost time.
	for name, spec := range opts.pools {
		pool := &ipamv1alpha1.IPPool{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec}
		if err := env.Client.Create(context.Background(), pool); err != nil {
			b.Fatal(err)
		}
	}
	for _, name := range opts.nodes {
		c.nodes = append(c.nodes, c.newSimNode(b, name))
	}
	if len(c.nodes) > 0 {
		// Until the policy is in force, the benchmarks would measure an
		// install without it.
		env.WaitForNodePolicy(b, env.TokenClient(b, c.nodes[0].config.BearerToken), waitTimeout)
	}
	for name := range opts.pools {
		harness.Eventually(b, waitTimeout, func() error { return env.PoolHolds(name, harness.PoolReady) })
	}
	return c
}

// startManager runs the manager binary with more environment variables
// env, with the garbage collector's grace period and scan interval at an
// hour unless args say otherwise, and its log in the cluster's directory,
// until b ends.
func (c *cluster) startManager(b *testing.B, env []string, args ...string) *harness.ManagerProcess {
	b.Helper()
	log, err := os.Create(filepath.Join(c.dir, fmt.Sprintf("manager-%d.log", time.Now().UnixNano())))
	if err != nil {
		b.Fatal(err)
	}
	args = append([]string{"--gc-grace-period=1h", "--gc-scan-interval=1h"}, args...)
	m, err := c.env.StartManagerProcess(c.Path("manager"), harness.ProcessOptions{Args: args, Log: log, Env: env})
	if err != nil {
		b.Fatal(err)
	}
	c.manager = m
	b.Cleanup(func() {
		if err := m.Stop(); err != nil {
			b.Error(err)
		}
		_ = log.Close()
	})
	return m
}

// simNode is one simulated node: its own name, data dir, libcni cache and
// kubeconfig, whose token is bound to a node agent pod on the node, as if
// it were a separate host.
type simNode struct {
	name       string
	kubeconfig string
	// config is the kubeconfig's client configuration.
	config   *rest.Config
	dataDir  string
	cni      *libcni.CNIConfig
	mu       sync.Mutex
	networks map[string]*libcni.NetworkConfigList
}

func (c *cluster) newSimNode(b *testing.B, name string) *simNode {
	b.Helper()
	dir := filepath.Join(c.dir, "nodes", name)
	n := &simNode{
		name: name, kubeconfig: filepath.Join(dir, "ipkeeper.kubeconfig"), dataDir: filepath.Join(dir, "data"),
		config:   c.env.TokenConfig(c.env.NodeToken(b, name)),
		cni:      libcni.NewCNIConfigWithCacheDir(c.path, filepath.Join(dir, "cache"), nil),
		networks: map[string]*libcni.NetworkConfigList{},
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		b.Fatal(err)
	}
	if err := harness.WriteKubeconfig(n.config, n.kubeconfig); err != nil {
		b.Fatal(err)
	}
	return n
}

// network returns the node's network whose IPAM plugin is plugin
// (ipkeeper or rawcreate), allocating from pool, called directly as
// runtimes call a plugin.
func (n *simNode) network(plugin, pool string) *libcni.NetworkConfigList {
	n.mu.Lock()
	defer n.mu.Unlock()
	key := plugin + "/" + pool
	if net, ok := n.networks[key]; ok {
		return net
	}
	ipam := harness.IPAMConfig(n.kubeconfig, n.name, n.dataDir, pool)
	ipam["type"] = plugin
	net := harness.IPAMNetwork("bench-"+strings.ReplaceAll(key, "/", "-"), ipam)
	n.networks[key] = net
	return net
}
