package perf

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/containernetworking/cni/libcni"
	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
	"github.com/ipkeeper/ipkeeper/test/harness"
	"github.com/ipkeeper/ipkeeper/test/harness/operator"
)

const (
	// simNodes is how many simulated nodes the end-to-end benchmarks use,
	// as in the published benchmark of 1000 pods on 10 nodes.
	simNodes = 10
	// benchPoolName is the pool every ipkeeper ADD allocates from: a /12
	// of 4096 /24 blocks, so no node ever runs out.
	benchPoolName = "bench-v4"
	benchPoolCIDR = "10.128.0.0/12"
	// poolReadyTimeout bounds the wait for the operator to report the pool
	// Ready.
	poolReadyTimeout = 30 * time.Second
)

// binaries are the plugins the runtime executes: ipkeeper from the harness
// (built once per test run), and the reference plugins (host-local) built
// from test/tools.
type binaries struct {
	plugin *harness.Binaries
	// path is the CNI_PATH: ipkeeper's directory, then the reference
	// plugins'.
	path []string
}

// cluster is the control plane the end-to-end benchmarks share: envtest
// with the operator's controllers and the webhooks, as in test/cni, a pool,
// a pod whose sandboxes the ADDs are for, and the simulated nodes, whose
// data dirs and libcni caches are in dir.
type cluster struct {
	*binaries
	env        *harness.Env
	kubeconfig string
	dir        string
	pod        *corev1.Pod
	nodes      []*simNode
	stops      []func() error
}

// The end-to-end fixtures start once per package, at the first benchmark
// that needs them and outside its timed loop; TestMain stops them. A run
// of the allocator benchmarks alone, or of no benchmark, starts nothing.
var (
	binariesOnce sync.Once
	sharedBins   *binaries
	binariesErr  error

	clusterOnce   sync.Once
	sharedCluster *cluster
	clusterErr    error
)

// needBinaries returns the plugins, preparing them on first use.
func needBinaries(b *testing.B) *binaries {
	b.Helper()
	if testing.Short() {
		b.Skip("end-to-end benchmarks build and exec plugins; skipped with -short")
	}
	binariesOnce.Do(func() { sharedBins, binariesErr = prepareBinaries() })
	if binariesErr != nil {
		b.Fatal(binariesErr)
	}
	return sharedBins
}

// needCluster returns the shared control plane, starting it on first use.
func needCluster(b *testing.B) *cluster {
	b.Helper()
	bins := needBinaries(b)
	clusterOnce.Do(func() { sharedCluster, clusterErr = startCluster(bins) })
	if clusterErr != nil {
		b.Fatal(clusterErr)
	}
	return sharedCluster
}

// stopShared stops whatever the benchmarks started.
func stopShared() error {
	var errs []error
	if sharedCluster != nil {
		errs = append(errs, sharedCluster.stop())
	}
	if sharedBins != nil {
		errs = append(errs, sharedBins.plugin.Remove())
	}
	return errors.Join(errs...)
}

func prepareBinaries() (*binaries, error) {
	reference, err := harness.CNIPluginsDir()
	if err != nil {
		return nil, err
	}
	plugin, err := harness.PreparePlugin()
	if err != nil {
		return nil, err
	}
	return &binaries{plugin: plugin, path: []string{plugin.Dir, reference}}, nil
}

// startCluster starts the control plane as test/cni does (package
// harness/operator): the controllers with a garbage collector that never
// fires during a run, and the webhooks that check every claim.
func startCluster(bins *binaries) (*cluster, error) {
	// The controllers' log lines would land amid the benchmark result
	// lines that benchstat parses; failures show as failed CNI calls.
	ctrl.SetLogger(logr.Discard())
	dir, err := os.MkdirTemp("", "ipkeeper-bench-")
	if err != nil {
		return nil, err
	}
	c := &cluster{binaries: bins, dir: dir, stops: []func() error{func() error { return os.RemoveAll(dir) }}}
	s, err := operator.Start()
	if err != nil {
		return nil, errors.Join(err, c.stop())
	}
	c.env, c.kubeconfig, c.stops = s.Env, s.Kubeconfig, append(c.stops, s.Stop)
	if err := c.createObjects(); err != nil {
		return nil, errors.Join(err, c.stop())
	}
	return c, nil
}

func (c *cluster) stop() error {
	var errs []error
	for i := len(c.stops) - 1; i >= 0; i-- {
		errs = append(errs, c.stops[i]())
	}
	c.stops = nil
	return errors.Join(errs...)
}

// createObjects creates the pool (and waits until the operator reports it
// Ready), the pod, and the Node objects of the simulated nodes, so that the
// operator does not take them for deleted nodes and release their blocks.
// They live as long as the control plane: no test's cleanup removes them.
func (c *cluster) createObjects() error {
	ctx := context.Background()
	cl := c.env.Client
	pool := &ipamv1alpha1.IPPool{ObjectMeta: metav1.ObjectMeta{Name: benchPoolName}, Spec: ipamv1alpha1.IPPoolSpec{CIDR: benchPoolCIDR}}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "bench"}}
	c.pod = harness.Pod(ns.Name, "bench-pod", nil)
	for _, obj := range []client.Object{pool, ns, c.pod} {
		if err := cl.Create(ctx, obj); err != nil {
			return fmt.Errorf("create %s: %w", obj.GetName(), err)
		}
	}
	for i := range simNodes {
		n, err := c.newSimNode(i)
		if err != nil {
			return err
		}
		if err := cl.Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n.name}}); err != nil {
			return fmt.Errorf("create node %s: %w", n.name, err)
		}
		c.nodes = append(c.nodes, n)
	}
	return harness.Poll(poolReadyTimeout, func() error { return c.env.PoolHolds(benchPoolName, harness.PoolReady) })
}

// simNode is one simulated node: its own name, data dirs and libcni cache,
// as if it were a separate host, with a network of each IPAM plugin.
type simNode struct {
	name string
	cni  *libcni.CNIConfig
	// ipkeeper and hostLocal are the node's network configurations whose
	// only plugin is the IPAM plugin, called directly as runtimes call a
	// plugin.
	ipkeeper, hostLocal *libcni.NetworkConfigList
	// ipkeeperConf is the configuration the ipkeeper plugin reads on
	// stdin, for in-process calls.
	ipkeeperConf []byte
	// warmed records the plugins that have run on the node.
	warmed map[string]bool
}

func (c *cluster) newSimNode(i int) (*simNode, error) {
	name := fmt.Sprintf("bench-node-%02d", i)
	dir := filepath.Join(c.dir, "nodes", name)
	n := &simNode{name: name, cni: libcni.NewCNIConfigWithCacheDir(c.path, filepath.Join(dir, "cache"), nil), warmed: map[string]bool{}}
	ipkeeperIPAM := harness.IPAMConfig(c.kubeconfig, name, filepath.Join(dir, "ipkeeper"), benchPoolName)
	// host-local's range is the node's own: a /16 so that no run of the
	// benchmarks exhausts it.
	hostLocalIPAM := map[string]any{
		"type": "host-local", "ranges": [][]map[string]string{{{"subnet": fmt.Sprintf("10.%d.0.0/16", 200+i)}}},
		"dataDir": filepath.Join(dir, "host-local"),
	}
	n.ipkeeper = harness.IPAMNetwork("bench-ipkeeper", ipkeeperIPAM)
	n.hostLocal = harness.IPAMNetwork("bench-host-local", hostLocalIPAM)
	var err error
	n.ipkeeperConf, err = json.Marshal(map[string]any{"cniVersion": "1.1.0", "name": "bench-ipkeeper", "type": "ipkeeper", "ipam": ipkeeperIPAM})
	return n, err
}

// runtimeConf is what the kubelet's runtime passes for a sandbox of the
// benchmark pod; every sandbox has its own container ID.
func (c *cluster) runtimeConf(containerID string) *libcni.RuntimeConf {
	return harness.RuntimeConf(containerID, c.pod)
}
