package perf

import (
	"context"
	"fmt"
	"hash/fnv"
	"net/netip"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ipkeeper/ipkeeper/api/ipspace"
	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
	"github.com/ipkeeper/ipkeeper/test/harness"
)

// The cluster of BenchmarkOperator: 500 nodes with 100 pods each, every
// pod with its Address claim, every node with its block.
const (
	scaleNodes       = 500
	scalePodsPerNode = 100
	scaleNamespaces  = 50
	scalePool        = "scale-v4"
	scaleCIDR        = "10.0.0.0/15"
	// scaleWriters create the objects at once; a bounded pool, so that the
	// API server is busy but not swamped.
	scaleWriters = 16
	// scaleChangeNodes are the nodes whose claims a bulk change deletes
	// and creates again: 5,000 claims.
	scaleChangeNodes = 50
	// scaleScanInterval is the garbage collector's scan interval while
	// BenchmarkOperator times its scans: longer than a scan.
	scaleScanInterval = 10 * time.Second
	// scaleMemoryLimit is the soft memory limit of the manager whose scans
	// are timed: what the manager sets itself in a container limited to
	// 278 MiB (setMemoryLimit in main.go takes 90%).
	scaleMemoryLimit = "250MiB"
	// settleTimeout bounds every wait for the operator.
	settleTimeout = 5 * time.Minute
)

// scaleCluster is the control plane of BenchmarkOperator and what it
// holds.
type scaleCluster struct {
	*cluster
	// b is the benchmark that started the cluster: the managers its
	// sub-benchmarks start run until it ends.
	b *testing.B
	// admin is an administrator's client without client-side throttling.
	admin client.Client
	nodes []*scaleNode
	// addresses is the number of Address claims.
	addresses int
	// scanning is set while the manager runs with a short scan interval
	// and a soft memory limit.
	scanning bool
	// peaks are the highest peak resident memory of the managers without
	// (false) and with (true) a soft memory limit, in bytes.
	peaks map[bool]int64
}

// scaleNode is a node of BenchmarkOperator with the client of its
// node-bound credential and its Address claims as first created.
type scaleNode struct {
	name   string
	config *rest.Config
	client client.Client
	claims []*ipamv1alpha1.IPClaim
}

// operatorRun is what one run of a BenchmarkOperator sub-benchmark
// measured, in seconds and MiB; zero where it did not measure.
type operatorRun struct {
	ready, converged, settled float64
	deleted, deleteConverged  float64
	created, createConverged  float64
	scan, scanCPU             float64
	peakRSS                   float64
}

// BenchmarkOperator measures the operator at cluster scale: 50,000 Address
// claims of 500 nodes (each with a /24 block) and 50,000 pods stored as
// the API server stores a Deployment's pods (labels, annotations, owner
// references, a realistic spec), made through the API before the real
// manager binary starts as a process, serving its webhooks. The nodes
// create their claims with their node-bound credentials, as their plugins
// would. Sub-benchmarks:
//   - start: the manager starts on a pool whose status says no address is
//     allocated, a change of 50,000 claims at once; it reports the time
//     until the manager is ready, until the pool's status counts every
//     claim and blocks, and until its first look at every claim is done;
//   - change=5000: 5,000 claims of 50 nodes deleted with one request, then
//     created again, 16 at a time; it reports how long each took and how
//     long after its last write the pool's status was true again;
//   - gc-scan: with the garbage collector scanning every 10 s, how long one
//     full scan takes, from the moment it queues every claim until the
//     last is looked at, and the manager's CPU time for it. This manager
//     runs with the soft memory limit it would set itself in a container
//     limited to 278 MiB;
//   - plugin-reads/claims=N/read=R: the plugin's reads (pluginReads) with
//     the first node's credential, each timed on its own, once the first
//     node holds its claims (101 in the cluster) and again once every node
//     does (50,500), with no manager running: the API server's cost of each
//     read as the cluster's claims grow.
//
// Each of start, change and gc-scan reports the manager's peak resident
// memory (VmHWM) so far: with Go's defaults (start, change) and under the
// soft limit (gc-scan).
func BenchmarkOperator(b *testing.B) {
	c := &scaleCluster{b: b, peaks: map[bool]int64{}, cluster: startCluster(b, clusterOptions{
		pools: map[string]ipamv1alpha1.IPPoolSpec{scalePool: {CIDR: scaleCIDR}},
	})}
	// The pool exists (its webhook admitted it); the cluster fills without
	// the operator.
	c.stopManager(b)
	reads := newRunLog[readRun]()
	c.prepare(b)
	c.populate(b, 0, 1)
	c.runPluginReads(b, reads)
	c.populate(b, 1, scaleNodes)
	c.runPluginReads(b, reads)
	runs := newRunLog[operatorRun]()
	b.Run("start", func(b *testing.B) { runs.record(b, c.benchmarkStart(b)) })
	b.Run(fmt.Sprintf("change=%d", scaleChangeNodes*scalePodsPerNode), func(b *testing.B) {
		b.StopTimer()
		c.ensureManager(b)
		b.StartTimer()
		runs.record(b, c.benchmarkChange(b))
	})
	b.Run("gc-scan/gomemlimit="+scaleMemoryLimit, func(b *testing.B) {
		b.StopTimer()
		if !c.scanning {
			c.restartManager(b, []string{"GOMEMLIMIT=" + scaleMemoryLimit}, fmt.Sprintf("--gc-scan-interval=%s", scaleScanInterval))
			c.scanning = true
		}
		runs.record(b, c.benchmarkScan(b))
	})
	c.operatorTable(b, runs).print()
	readsTable(b, reads).print()
}

// prepare creates the administrator's unthrottled client and the
// namespaces that populate fills.
func (c *scaleCluster) prepare(b *testing.B) {
	b.Helper()
	cfg := rest.CopyConfig(c.env.Config)
	cfg.QPS = -1
	var err error
	if c.admin, err = client.New(cfg, client.Options{Scheme: c.env.Scheme}); err != nil {
		b.Fatal(err)
	}
	for i := range scaleNamespaces {
		c.env.CreateNamespace(b, scaleNamespace(i), nil)
	}
	c.nodes = make([]*scaleNode, scaleNodes)
}

// populate creates nodes from to to-1, their node agent pods, blocks, pods
// and claims.
func (c *scaleCluster) populate(b *testing.B, from, to int) {
	b.Helper()
	layout, err := (&ipamv1alpha1.IPPoolSpec{CIDR: scaleCIDR}).Layout()
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	err = parallel(to-from, scaleWriters, func(i int) error {
		n, err := c.populateNode(from+i, layout.BlockAt(uint64(from+i)))
		c.nodes[from+i] = n
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	c.addresses = to * scalePodsPerNode
	populated := (to - from) * scalePodsPerNode
	fmt.Printf("Populated %d nodes, %d pods and %d claims in %.0fs\n",
		to-from, populated, populated+to-from, time.Since(start).Seconds())
}

func scaleNamespace(i int) string { return fmt.Sprintf("scale-%02d", i) }

// populateNode creates node i, its node agent pod and credential, its
// block, and its pods with their claims.
func (c *scaleCluster) populateNode(i int, block netip.Prefix) (*scaleNode, error) {
	ctx := context.Background()
	n := &scaleNode{name: fmt.Sprintf("scale-node-%03d", i)}
	if err := c.admin.Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n.name}}); err != nil {
		return nil, err
	}
	token, err := c.nodeToken(ctx, n.name)
	if err != nil {
		return nil, err
	}
	n.config = c.env.TokenConfig(token)
	n.config.QPS = -1
	if n.client, err = client.New(n.config, client.Options{Scheme: c.env.Scheme}); err != nil {
		return nil, err
	}
	if err := n.client.Create(ctx, harness.BlockClaim(scalePool, n.name, block.String())); err != nil {
		return nil, fmt.Errorf("create the block of %s: %w", n.name, err)
	}
	addr := block.Addr()
	for j := range scalePodsPerNode {
		addr = addr.Next()
		pod := scalePod(scaleNamespace((i*scalePodsPerNode+j)%scaleNamespaces), fmt.Sprintf("web-%03d-%03d", i, j), n.name)
		if err := c.admin.Create(ctx, pod); err != nil {
			return nil, err
		}
		claim := scaleClaim(n.name, addr, pod)
		n.claims = append(n.claims, claim.DeepCopy())
		if err := n.client.Create(ctx, claim); err != nil {
			return nil, fmt.Errorf("create claim %s as %s: %w", claim.Name, n.name, err)
		}
	}
	return n, nil
}

// nodeToken creates node's node agent pod and returns a token bound to
// it, as the kubelet projects it, with the unthrottled client.
func (c *scaleCluster) nodeToken(ctx context.Context, node string) (string, error) {
	pod, err := harness.NewNodeAgentPod(ctx, c.admin, "agent-"+node, node)
	if err != nil {
		return "", err
	}
	return harness.RequestBoundToken(ctx, c.admin, pod, int64(tokenLifetime.Seconds()))
}

// scaleClaim is the Address claim the plugin of node makes for pod.
func scaleClaim(node string, addr netip.Addr, pod *corev1.Pod) *ipamv1alpha1.IPClaim {
	owner := &ipamv1alpha1.ClaimOwner{
		Namespace: pod.Namespace, Name: pod.Name, Pod: pod.Namespace + "/" + pod.Name, UID: string(pod.UID),
		ContainerID: containerID(pod.Name), Interface: "eth0", Network: "k8s-pod-network",
	}
	return harness.AddressClaim(scalePool, node, addr.String(), ipspace.DefaultBlockSizeIPv4, owner)
}

// containerID is a sandbox ID as containerd writes them: 64 hex digits.
func containerID(seed string) string {
	id := fmt.Sprintf("%x", seed)
	return (id + strings.Repeat("0", 64))[:64]
}

// scalePod is a pod of a Deployment's ReplicaSet as the API server stores
// it once scheduled: the operator reads only its metadata, but the API
// server serves and stores all of it.
func scalePod(namespace, name, node string) *corev1.Pod {
	labels := map[string]string{
		"app.kubernetes.io/name": "web", "app.kubernetes.io/instance": namespace, "app.kubernetes.io/component": "frontend",
		"app.kubernetes.io/version": "1.4.2", "pod-template-hash": "7c9f8d6b5d",
	}
	annotations := map[string]string{
		"kubectl.kubernetes.io/restartedAt": "2026-11-20T10:00:00Z",
		"prometheus.io/scrape":              "true", "prometheus.io/port": "9090",
		"k8s.v1.cni.cncf.io/network-status": `[{"name":"k8s-pod-network","interface":"eth0","ips":["10.0.0.1"],"mac":"0a:58:0a:00:00:01","default":true,"dns":{}}]`,
	}
	owner := metav1.OwnerReference{
		APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web-7c9f8d6b5d", UID: types.UID(fmt.Sprintf("0b7d2c1e-5a6f-4e8b-9c0d-%012x", nodeHashOf(namespace)&(1<<48-1))),
		Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: namespace, Name: name, GenerateName: "web-7c9f8d6b5d-",
			Labels: labels, Annotations: annotations, OwnerReferences: []metav1.OwnerReference{owner},
		},
		Spec: scalePodSpec(node),
	}
}

func scalePodSpec(node string) corev1.PodSpec {
	probe := func(path string) *corev1.Probe {
		return &corev1.Probe{
			ProbeHandler:   corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromInt32(8080)}},
			PeriodSeconds:  10,
			TimeoutSeconds: 1, SuccessThreshold: 1, FailureThreshold: 3,
		}
	}
	return corev1.PodSpec{
		NodeName: node, ServiceAccountName: "default", AutomountServiceAccountToken: ptr.To(false),
		Containers: []corev1.Container{{
			Name: "web", Image: "registry.example.com/team/web:1.4.2", Args: []string{"--listen=:8080", "--metrics=:9090", "--log-format=json"},
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}, {Name: "metrics", ContainerPort: 9090, Protocol: corev1.ProtocolTCP}},
			Env: []corev1.EnvVar{
				{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
				{Name: "POD_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
				{Name: "DATABASE_URL", Value: "postgres://web@db.database.svc:5432/web"}, {Name: "CACHE_TTL", Value: "300s"},
			},
			Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
				Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")},
			},
			ReadinessProbe: probe("/readyz"), LivenessProbe: probe("/healthz"),
			VolumeMounts:             []corev1.VolumeMount{{Name: "config", MountPath: "/etc/web", ReadOnly: true}},
			TerminationMessagePath:   "/dev/termination-log",
			TerminationMessagePolicy: corev1.TerminationMessageReadFile,
			ImagePullPolicy:          corev1.PullIfNotPresent,
			SecurityContext:          &corev1.SecurityContext{RunAsNonRoot: ptr.To(true), AllowPrivilegeEscalation: ptr.To(false), ReadOnlyRootFilesystem: ptr.To(true)},
		}},
		Volumes: []corev1.Volume{{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: "web-config"}, DefaultMode: ptr.To[int32](0o644),
		}}}},
		Tolerations: []corev1.Toleration{
			{Key: "node.kubernetes.io/not-ready", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](300)},
			{Key: "node.kubernetes.io/unreachable", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](300)},
		},
		RestartPolicy: corev1.RestartPolicyAlways, DNSPolicy: corev1.DNSClusterFirst, SchedulerName: "default-scheduler",
		TerminationGracePeriodSeconds: ptr.To[int64](30), EnableServiceLinks: ptr.To(true),
	}
}

// nodeHashOf hashes s, for stable fake UIDs.
func nodeHashOf(s string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(s))
	return h.Sum64()
}

// goDefaults is the environment of a manager left to Go's defaults: no
// soft memory limit, even if the benchmark runs in a container that has a
// memory limit the manager would take one from.
var goDefaults = []string{"GOMEMLIMIT=off"}

// restartManager stops the running manager, if any, and starts one with
// args; it waits until the manager has looked at every claim once.
func (c *scaleCluster) restartManager(b *testing.B, env []string, args ...string) {
	b.Helper()
	c.stopManager(b)
	m := c.startManager(c.b, env, args...)
	if err := c.waitSettled(m, 0); err != nil {
		b.Fatal(err)
	}
}

// ensureManager starts a manager unless one runs: a sub-benchmark run on
// its own (-bench) finds none.
func (c *scaleCluster) ensureManager(b *testing.B) {
	b.Helper()
	if c.manager == nil || c.scanning {
		c.restartManager(b, goDefaults)
		c.scanning = false
	}
}

// stopManager stops the running manager, noting its peak memory.
func (c *scaleCluster) stopManager(b *testing.B) {
	b.Helper()
	if c.manager == nil {
		return
	}
	c.peakRSS(b)
	if err := c.manager.Stop(); err != nil {
		b.Fatal(err)
	}
	c.manager = nil
}

// peakRSS returns the running manager's peak resident memory in MiB, and
// notes it.
func (c *scaleCluster) peakRSS(b *testing.B) float64 {
	b.Helper()
	rss, err := c.manager.PeakRSS()
	if err != nil {
		b.Fatal(err)
	}
	c.peaks[c.scanning] = max(c.peaks[c.scanning], rss)
	return float64(rss) / (1 << 20)
}

// benchmarkStart starts the manager on a pool whose status says nothing
// is allocated.
func (c *scaleCluster) benchmarkStart(b *testing.B) operatorRun {
	var run operatorRun
	for range b.N {
		b.StopTimer()
		c.stopManager(b)
		c.scanning = false
		c.resetPoolStatus(b)
		cpu := startCPU()
		b.StartTimer()
		start := time.Now()
		m := c.startManager(c.b, goDefaults)
		run.ready = time.Since(start).Seconds()
		if err := c.waitStatus(c.addresses, scaleNodes); err != nil {
			b.Fatal(err)
		}
		run.converged = time.Since(start).Seconds()
		if err := c.waitSettled(m, 0); err != nil {
			b.Fatal(err)
		}
		run.settled = time.Since(start).Seconds()
		cpu.report(b, 1, "start")
	}
	b.StopTimer()
	run.peakRSS = c.peakRSS(b)
	b.ReportMetric(run.ready, "ready-s")
	b.ReportMetric(run.converged, "converged-s")
	b.ReportMetric(run.settled, "settled-s")
	b.ReportMetric(run.peakRSS, "peak-rss-MiB")
	return run
}

// resetPoolStatus writes a status that counts nothing, as if the pool's
// claims had all been made at once while the operator was away.
func (c *scaleCluster) resetPoolStatus(b *testing.B) {
	b.Helper()
	pool := &ipamv1alpha1.IPPool{ObjectMeta: metav1.ObjectMeta{Name: scalePool}}
	patch := client.RawPatch(types.MergePatchType, []byte(`{"status":{"allocated":0,"blocks":0}}`))
	if err := c.admin.Status().Patch(context.Background(), pool, patch); err != nil {
		b.Fatal(err)
	}
}

// benchmarkChange deletes the claims of scaleChangeNodes nodes with one
// request, waits for the pool's status to count them gone, creates them
// again and waits for the status to count them back.
func (c *scaleCluster) benchmarkChange(b *testing.B) operatorRun {
	var run operatorRun
	changed := c.nodes[:scaleChangeNodes]
	names := make([]string, len(changed))
	for i, n := range changed {
		names[i] = n.name
	}
	onNodes, err := labels.NewRequirement(ipamv1alpha1.LabelNode, selection.In, names)
	if err != nil {
		b.Fatal(err)
	}
	removed := scaleChangeNodes * scalePodsPerNode
	for range b.N {
		start := time.Now()
		err := c.admin.DeleteAllOf(context.Background(), &ipamv1alpha1.IPClaim{},
			client.MatchingLabelsSelector{Selector: labels.NewSelector().Add(*onNodes)},
			client.MatchingFields{ipamv1alpha1.FieldType: string(ipamv1alpha1.ClaimTypeAddress)})
		if err != nil {
			b.Fatal(err)
		}
		run.deleted = time.Since(start).Seconds()
		if err := c.waitStatus(c.addresses-removed, scaleNodes); err != nil {
			b.Fatal(err)
		}
		run.deleteConverged = time.Since(start).Seconds() - run.deleted
		start = time.Now()
		c.recreate(b, changed)
		run.created = time.Since(start).Seconds()
		if err := c.waitStatus(c.addresses, scaleNodes); err != nil {
			b.Fatal(err)
		}
		run.createConverged = time.Since(start).Seconds() - run.created
	}
	b.StopTimer()
	run.peakRSS = c.peakRSS(b)
	b.ReportMetric(run.deleted, "delete-s")
	b.ReportMetric(run.deleteConverged, "delete-converged-s")
	b.ReportMetric(run.created, "create-s")
	b.ReportMetric(run.createConverged, "create-converged-s")
	b.ReportMetric(run.peakRSS, "peak-rss-MiB")
	return run
}

// recreate creates the Address claims of nodes again, each with its node's
// credential, scaleWriters at once.
func (c *scaleCluster) recreate(b *testing.B, nodes []*scaleNode) {
	b.Helper()
	type job struct {
		node  *scaleNode
		claim *ipamv1alpha1.IPClaim
	}
	var jobs []job
	for _, n := range nodes {
		for _, claim := range n.claims {
			jobs = append(jobs, job{n, claim.DeepCopy()})
		}
	}
	err := parallel(len(jobs), scaleWriters, func(i int) error {
		return jobs[i].node.client.Create(context.Background(), jobs[i].claim)
	})
	if err != nil {
		b.Fatal(err)
	}
}

// waitStatus waits until the pool's status counts allocated addresses and
// blocks.
func (c *scaleCluster) waitStatus(allocated, blocks int) error {
	return harness.Poll(settleTimeout, func() error {
		return c.env.PoolHolds(scalePool, func(p *ipamv1alpha1.IPPool) bool {
			return p.Status.Allocated == int64(allocated) && p.Status.Blocks == int64(blocks)
		})
	})
}

// benchmarkScan times full scans of the garbage collector: from the moment
// a scan queues every claim until the last has been looked at.
func (c *scaleCluster) benchmarkScan(b *testing.B) operatorRun {
	var run operatorRun
	for range b.N {
		b.StopTimer()
		adds, err := c.waitScanStart()
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		cpu := startCPU()
		if err := c.waitSettled(c.manager, adds); err != nil {
			b.Fatal(err)
		}
		run.scan = time.Since(start).Seconds()
		spent := cpu.report(b, 1, "scan")
		run.scanCPU = spent.ms("manager") / 1000
	}
	b.StopTimer()
	run.peakRSS = c.peakRSS(b)
	b.ReportMetric(run.scan, "scan-s")
	b.ReportMetric(run.peakRSS, "peak-rss-MiB")
	return run
}

// The manager's metrics BenchmarkOperator watches, of its claim
// controller (named ipclaim).
const (
	claimQueueAdds  = "workqueue_adds_total"
	claimQueueDepth = "workqueue_depth"
	claimWorkers    = "controller_runtime_active_workers"
	claimController = `controller="ipclaim"`
)

// claimMetric sums the manager's samples of metric for the claim
// controller.
func claimMetric(samples map[string]float64, metric string) float64 {
	var sum float64
	for series, v := range samples {
		if strings.HasPrefix(series, metric+"{") && strings.Contains(series, claimController) {
			sum += v
		}
	}
	return sum
}

// waitScanStart waits until the claim controller's queue receives every
// claim at once, as a scan queues them, and returns the queue's adds so
// far.
func (c *scaleCluster) waitScanStart() (float64, error) {
	samples, err := harness.ScrapeMetrics(c.manager.MetricsAddr)
	if err != nil {
		return 0, err
	}
	before := claimMetric(samples, claimQueueAdds)
	var adds float64
	err = harness.Poll(2*scaleScanInterval, func() error {
		samples, err := harness.ScrapeMetrics(c.manager.MetricsAddr)
		if err != nil {
			return err
		}
		if adds = claimMetric(samples, claimQueueAdds); adds-before < float64(c.addresses) {
			return fmt.Errorf("no scan of the claims began within %s", 2*scaleScanInterval)
		}
		return nil
	})
	return adds, err
}

// waitSettled waits until the claim controller has queued more than adds
// items in all and has none queued or in work: it has looked at every
// claim it was given.
func (c *scaleCluster) waitSettled(m *harness.ManagerProcess, adds float64) error {
	return harness.Poll(settleTimeout, func() error {
		samples, err := harness.ScrapeMetrics(m.MetricsAddr)
		if err != nil {
			return err
		}
		queued, depth, busy := claimMetric(samples, claimQueueAdds), claimMetric(samples, claimQueueDepth), claimMetric(samples, claimWorkers)
		if queued < adds || queued < float64(c.addresses) || depth > 0 || busy > 0 {
			return fmt.Errorf("the claim controller has queued %.0f claims, %.0f still queued, %.0f in work", queued, depth, busy)
		}
		return nil
	})
}

// operatorTable shows the medians of every measure, and the peak memory
// of every manager.
func (c *scaleCluster) operatorTable(b *testing.B, runs *runLog[operatorRun]) *table {
	t := newTable(fmt.Sprintf("Operator: %d Address claims of %d nodes, %d pods; medians of the runs, in seconds",
		c.addresses, scaleNodes, scaleNodes*scalePodsPerNode), "measure", "value", "what")
	measure := func(sub, what string, f func(operatorRun) float64) {
		v, ok := runs.median(b.Name()+"/"+sub, f)
		t.add(sub, num(v, ok, "%.2f"), what)
	}
	change := fmt.Sprintf("change=%d", scaleChangeNodes*scalePodsPerNode)

	measure("start", "manager started until ready", func(r operatorRun) float64 { return r.ready })
	measure("start", fmt.Sprintf("until the pool's status counts every claim (a %d-claim change)", c.addresses), func(r operatorRun) float64 { return r.converged })
	measure("start", "until every claim was looked at once", func(r operatorRun) float64 { return r.settled })
	changed := scaleChangeNodes * scalePodsPerNode
	measure(change, fmt.Sprintf("%d claims deleted (one request)", changed), func(r operatorRun) float64 { return r.deleted })
	measure(change, "then until the status was true", func(r operatorRun) float64 { return r.deleteConverged })
	measure(change, fmt.Sprintf("%d claims created, %d at once", changed, scaleWriters), func(r operatorRun) float64 { return r.created })
	measure(change, "then until the status was true", func(r operatorRun) float64 { return r.createConverged })
	scan := "gc-scan/gomemlimit=" + scaleMemoryLimit
	measure(scan, "a full scan of the garbage collector", func(r operatorRun) float64 { return r.scan })
	measure(scan, "the manager's CPU time for it", func(r operatorRun) float64 { return r.scanCPU })
	t.add("start, change", fmt.Sprintf("%.0f", float64(c.peaks[false])/(1<<20)), "the manager's peak resident memory (VmHWM), MiB, with Go's defaults")
	t.add("gc-scan", fmt.Sprintf("%.0f", float64(c.peaks[true])/(1<<20)), "the same, MiB, with GOMEMLIMIT="+scaleMemoryLimit)
	return t
}
