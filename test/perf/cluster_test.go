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
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
	"github.com/ipkeeper/ipkeeper/test/stack"
	"github.com/ipkeeper/ipkeeper/test/testenv"
)

const (
	// simNodes is how many simulated nodes the end-to-end benchmarks use,
	// as in the published benchmark of 1000 pods on 10 nodes.
	simNodes = 10
	// benchPoolName is the pool every ipkeeper ADD allocates from: a /12
	// of 4096 /24 blocks, so no node ever runs out.
	benchPoolName = "bench-v4"
	benchPoolCIDR = "10.128.0.0/12"
	// absentNetNS is the CNI_NETNS of every call: neither IPAM plugin
	// enters it.
	absentNetNS = "/var/run/netns/ipkeeper-bench-absent"
)

// binaries are the plugins the runtime executes: ipkeeper built from this
// checkout, and the reference plugins (host-local) built from test/tools.
type binaries struct {
	dir string
	// path is the CNI_PATH: ipkeeper's directory, then the reference
	// plugins'.
	path []string
}

// cluster is the control plane the end-to-end benchmarks share: envtest
// with the operator's controllers and the webhooks, as in test/cni, a pool,
// a pod whose sandboxes the ADDs are for, and the simulated nodes.
type cluster struct {
	*binaries
	env        *testenv.Env
	kubeconfig string
	pod        *corev1.Pod
	nodes      []*simNode
	stops      []func() error
}

// The end-to-end fixtures start once per package, at the first benchmark
// that needs them and outside its timed loop; TestMain stops them. A run
// of the allocator benchmarks alone starts no control plane.
var (
	binariesOnce sync.Once
	sharedBins   *binaries
	binariesErr  error

	clusterOnce   sync.Once
	sharedCluster *cluster
	clusterErr    error
)

// needBinaries returns the built plugins, building them on first use.
func needBinaries(b *testing.B) *binaries {
	b.Helper()
	if testing.Short() {
		b.Skip("end-to-end benchmarks build and exec plugins; skipped with -short")
	}
	binariesOnce.Do(func() { sharedBins, binariesErr = buildBinaries() })
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
		errs = append(errs, os.RemoveAll(sharedBins.dir))
	}
	return errors.Join(errs...)
}

func buildBinaries() (*binaries, error) {
	dir, err := os.MkdirTemp("", "ipkeeper-bench-")
	if err != nil {
		return nil, err
	}
	bin := filepath.Join(dir, "bin")
	if err := testenv.BuildPlugin(bin); err != nil {
		return nil, errors.Join(err, os.RemoveAll(dir))
	}
	reference, err := testenv.CNIPluginsDir()
	if err != nil {
		return nil, errors.Join(err, os.RemoveAll(dir))
	}
	return &binaries{dir: dir, path: []string{bin, reference}}, nil
}

// startCluster starts the control plane as test/cni does (package
// stack): the controllers with a garbage collector that never fires during
// a run, and the webhooks that check every claim.
func startCluster(bins *binaries) (*cluster, error) {
	// The controllers' log lines would land amid the benchmark result
	// lines that benchstat parses; failures show as failed CNI calls.
	ctrl.SetLogger(logr.Discard())
	s, err := stack.Start()
	if err != nil {
		return nil, err
	}
	c := &cluster{binaries: bins, env: s.Env, kubeconfig: s.Kubeconfig, stops: []func() error{s.Stop}}
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
func (c *cluster) createObjects() error {
	ctx := context.Background()
	cl := c.env.Client
	pool := &ipamv1alpha1.IPPool{ObjectMeta: metav1.ObjectMeta{Name: benchPoolName}, Spec: ipamv1alpha1.IPPoolSpec{CIDR: benchPoolCIDR}}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "bench"}}
	c.pod = &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: "bench-pod"},
		Spec: corev1.PodSpec{
			AutomountServiceAccountToken: new(bool),
			Containers:                   []corev1.Container{{Name: "app", Image: "registry.invalid/app:1"}},
		},
	}
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
	return c.waitPoolReady(ctx)
}

func (c *cluster) waitPoolReady(ctx context.Context) error {
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		var p ipamv1alpha1.IPPool
		if err := c.env.Client.Get(ctx, client.ObjectKey{Name: benchPoolName}, &p); err != nil {
			return false, err
		}
		return meta.IsStatusConditionTrue(p.Status.Conditions, ipamv1alpha1.PoolReady), nil
	})
	if err != nil {
		return fmt.Errorf("pool %s did not become Ready: %w", benchPoolName, err)
	}
	return nil
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
	ipkeeperIPAM := map[string]any{
		"type": "ipkeeper", "pools": []string{benchPoolName}, "kubeconfig": c.kubeconfig,
		"nodeName": name, "dataDir": filepath.Join(dir, "ipkeeper"), "timeout": "20s",
	}
	// host-local's range is the node's own: a /16 so that no run of the
	// benchmarks exhausts it.
	hostLocalIPAM := map[string]any{
		"type": "host-local", "ranges": [][]map[string]string{{{"subnet": fmt.Sprintf("10.%d.0.0/16", 200+i)}}},
		"dataDir": filepath.Join(dir, "host-local"),
	}
	var err error
	if n.ipkeeper, err = networkList("bench-ipkeeper", ipkeeperIPAM); err != nil {
		return nil, err
	}
	if n.hostLocal, err = networkList("bench-host-local", hostLocalIPAM); err != nil {
		return nil, err
	}
	n.ipkeeperConf, err = json.Marshal(map[string]any{"cniVersion": "1.1.0", "name": "bench-ipkeeper", "type": "ipkeeper", "ipam": ipkeeperIPAM})
	return n, err
}

// networkList is a network configuration list whose only plugin is the
// IPAM plugin named by ipam's type.
func networkList(name string, ipam map[string]any) (*libcni.NetworkConfigList, error) {
	raw, err := json.Marshal(map[string]any{
		"cniVersion": "1.1.0", "name": name,
		"plugins": []any{map[string]any{"type": ipam["type"], "ipam": ipam}},
	})
	if err != nil {
		return nil, err
	}
	return libcni.ConfListFromBytes(raw)
}

// runtimeConf is what the kubelet's runtime passes for a sandbox of the
// benchmark pod; every sandbox has its own container ID.
func (c *cluster) runtimeConf(containerID string) *libcni.RuntimeConf {
	return &libcni.RuntimeConf{
		ContainerID: containerID, NetNS: absentNetNS, IfName: "eth0",
		Args: [][2]string{
			{"IgnoreUnknown", "1"},
			{"K8S_POD_NAMESPACE", c.pod.Namespace},
			{"K8S_POD_NAME", c.pod.Name},
			{"K8S_POD_INFRA_CONTAINER_ID", containerID},
			{"K8S_POD_UID", string(c.pod.UID)},
		},
	}
}
