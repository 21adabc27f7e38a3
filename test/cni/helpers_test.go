package cni

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
	"github.com/ipkeeper/ipkeeper/test/stack"
	"github.com/ipkeeper/ipkeeper/test/testenv"
)

// absentNetNS is the CNI_NETNS of calls that need no network namespace: an
// IPAM plugin never enters it.
const absentNetNS = "/var/run/netns/ipkeeper-test-absent"

// node is one simulated node: its own name, data dir and libcni cache, as
// if it were a separate host.
type node struct {
	name    string
	dataDir string
	cni     *libcni.CNIConfig
}

func newNode(t *testing.T, name string) *node {
	createNode(t, name)
	dir := t.TempDir()
	return &node{
		name:    name,
		dataDir: filepath.Join(dir, "data"),
		cni:     libcni.NewCNIConfigWithCacheDir([]string{binDir}, filepath.Join(dir, "cache"), nil),
	}
}

// ipamConfig is the ipam section the node uses.
func (n *node) ipamConfig(pools ...string) map[string]any {
	return map[string]any{
		"type": "ipkeeper", "pools": pools, "kubeconfig": kubeconfig,
		"nodeName": n.name, "dataDir": n.dataDir, "timeout": "20s",
	}
}

// network returns a network configuration list whose only plugin is
// ipkeeper, with the given ipam section.
func network(t *testing.T, name string, ipam map[string]any) *libcni.NetworkConfigList {
	return stack.NetworkList(t, map[string]any{
		"cniVersion": "1.1.0", "name": name,
		"plugins": []any{map[string]any{"type": "ipkeeper", "ipam": ipam}},
	})
}

// runtimeConf is what a container runtime passes for a pod's sandbox.
func runtimeConf(containerID string, pod *corev1.Pod) *libcni.RuntimeConf {
	rt := &libcni.RuntimeConf{ContainerID: containerID, NetNS: absentNetNS, IfName: "eth0"}
	if pod != nil {
		rt.Args = [][2]string{
			{"IgnoreUnknown", "1"},
			{"K8S_POD_NAMESPACE", pod.Namespace},
			{"K8S_POD_NAME", pod.Name},
			{"K8S_POD_INFRA_CONTAINER_ID", containerID},
			{"K8S_POD_UID", string(pod.UID)},
		}
	}
	return rt
}

// createPool creates a pool, waits until the operator reports it Ready, and
// removes it and its claims when the test ends.
func createPool(t *testing.T, name string, spec ipamv1alpha1.IPPoolSpec) {
	t.Helper()
	ctx := context.Background()
	pool := &ipamv1alpha1.IPPool{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec}
	if err := env.Client.Create(ctx, pool); err != nil {
		t.Fatalf("create pool %s: %v", name, err)
	}
	t.Cleanup(func() { deletePool(t, name) })
	waitForPool(t, name, func(p *ipamv1alpha1.IPPool) bool {
		return meta.IsStatusConditionTrue(p.Status.Conditions, ipamv1alpha1.PoolReady)
	})
}

// waitForPool waits until cond holds for the pool.
func waitForPool(t *testing.T, name string, cond func(*ipamv1alpha1.IPPool) bool) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		var p ipamv1alpha1.IPPool
		if err := env.Client.Get(ctx, client.ObjectKey{Name: name}, &p); err != nil {
			return false, client.IgnoreNotFound(err)
		}
		return cond(&p), nil
	})
	if err != nil {
		t.Fatalf("pool %s did not reach the expected state: %v", name, err)
	}
}

func deletePool(t *testing.T, name string) {
	ctx := context.Background()
	for _, c := range poolClaims(t, name) {
		_ = env.Client.Delete(ctx, &c)
	}
	_ = env.Client.Delete(ctx, &ipamv1alpha1.IPPool{ObjectMeta: metav1.ObjectMeta{Name: name}})
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		err := env.Client.Get(ctx, client.ObjectKey{Name: name}, &ipamv1alpha1.IPPool{})
		return apierrors.IsNotFound(err), nil
	})
	if err != nil {
		t.Errorf("pool %s was not removed: %v", name, err)
	}
}

// poolClaims lists a pool's claims from the API server.
func poolClaims(t *testing.T, pool string) []ipamv1alpha1.IPClaim {
	t.Helper()
	var list ipamv1alpha1.IPClaimList
	if err := env.Client.List(context.Background(), &list, client.MatchingFields{ipamv1alpha1.FieldPool: pool}); err != nil {
		t.Fatal(err)
	}
	return list.Items
}

// addressClaims returns the pool's Address claims by address.
func addressClaims(t *testing.T, pool string) map[string]ipamv1alpha1.IPClaim {
	t.Helper()
	out := map[string]ipamv1alpha1.IPClaim{}
	for _, c := range poolClaims(t, pool) {
		if c.Spec.Type == ipamv1alpha1.ClaimTypeAddress {
			out[c.Spec.Address] = c
		}
	}
	return out
}

// createPod creates a pod (and its namespace) with annotations; the pod is
// removed when the test ends. namespaceAnnotations, when set, go on a new
// namespace.
func createPod(t *testing.T, namespace, name string, annotations, namespaceAnnotations map[string]string) *corev1.Pod {
	t.Helper()
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace, Annotations: namespaceAnnotations}}
	if err := env.Client.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Annotations: annotations},
		Spec: corev1.PodSpec{
			AutomountServiceAccountToken: new(bool),
			Containers:                   []corev1.Container{{Name: "app", Image: "registry.invalid/app:1"}},
		},
	}
	if err := env.Client.Create(ctx, pod); err != nil {
		t.Fatalf("create pod %s/%s: %v", namespace, name, err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), pod, client.GracePeriodSeconds(0)) })
	return pod
}

// resultIP returns the only address of an ADD result.
func resultIP(t *testing.T, res types.Result) string {
	result, err := current.NewResultFromResult(res)
	if err != nil || len(result.IPs) != 1 {
		t.Errorf("result %v: %v", res, err)
		return ""
	}
	return result.IPs[0].Address.IP.String()
}

func clientKey(name string) client.ObjectKey { return client.ObjectKey{Name: name} }

// writeKubeconfig writes a kubeconfig for cfg.
func writeKubeconfig(cfg *rest.Config, path string) error { return testenv.WriteKubeconfig(cfg, path) }

// createNode creates the Node object of a simulated node, so that the
// operator does not take it for a deleted node and release its blocks.
func createNode(t *testing.T, name string) {
	t.Helper()
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := env.Client.Create(context.Background(), n); err != nil {
		t.Fatalf("create node %s: %v", name, err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), n) })
}
