package controllers

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ipkeeper/ipkeeper/api/ipspace"
	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
)

// eventually polls check until it returns nil, failing the test with the
// last error when timeout passes first.
func eventually(t *testing.T, timeout time.Duration, check func() error) {
	t.Helper()
	var last error
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
		last = check()
		return last == nil, nil
	})
	if err != nil {
		t.Fatalf("not true within %s: %v", timeout, last)
	}
}

// consistently fails the test as soon as check returns an error during d.
func consistently(t *testing.T, d time.Duration, check func() error) {
	t.Helper()
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if err := check(); err != nil {
			t.Fatalf("stopped being true within %s: %v", d, err)
		}
	}
}

// createPool creates a pool and, at cleanup, deletes it with whatever claims
// it still has and waits until it is gone.
func createPool(t *testing.T, name, cidr string, blockSize int32, mutate ...func(*ipamv1alpha1.IPPool)) {
	t.Helper()
	pool := &ipamv1alpha1.IPPool{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       ipamv1alpha1.IPPoolSpec{CIDR: cidr, BlockSize: ptr.To(blockSize)},
	}
	for _, m := range mutate {
		m(pool)
	}
	if err := env.Client.Create(context.Background(), pool); err != nil {
		t.Fatalf("create IPPool %s: %v", name, err)
	}
	t.Cleanup(func() { deletePool(t, name) })
}

// deletePool deletes a pool and its claims and waits until the pool is gone.
func deletePool(t *testing.T, name string) {
	t.Helper()
	ctx := context.Background()
	err := env.Client.DeleteAllOf(ctx, &ipamv1alpha1.IPClaim{}, client.MatchingFields{ipamv1alpha1.FieldPool: name})
	if err != nil {
		t.Errorf("delete claims of IPPool %s: %v", name, err)
	}
	pool := &ipamv1alpha1.IPPool{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := env.Client.Delete(ctx, pool); err != nil && !apierrors.IsNotFound(err) {
		t.Errorf("delete IPPool %s: %v", name, err)
	}
	eventually(t, 20*time.Second, func() error { return expectGone(pool) })
}

// expectGone returns nil once obj no longer exists.
func expectGone(obj client.Object) error {
	err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(obj), obj)
	switch {
	case apierrors.IsNotFound(err):
		return nil
	case err != nil:
		return err
	}
	return fmt.Errorf("%T %s still exists", obj, obj.GetName())
}

// addressClaim returns an Address claim of pool for addr, labelled as the
// allocator labels it, with blockBits naming the block label (0: no
// labels) and owner as given.
func addressClaim(pool, addr string, blockBits int, owner *ipamv1alpha1.ClaimOwner) *ipamv1alpha1.IPClaim {
	a := netip.MustParseAddr(addr)
	claim := &ipamv1alpha1.IPClaim{
		ObjectMeta: metav1.ObjectMeta{Name: ipspace.AddressClaimName(a)},
		Spec:       ipamv1alpha1.IPClaimSpec{Pool: pool, Type: ipamv1alpha1.ClaimTypeAddress, Address: addr, Owner: owner},
	}
	if blockBits > 0 {
		claim.Labels = map[string]string{
			ipamv1alpha1.LabelPool:  pool,
			ipamv1alpha1.LabelBlock: ipspace.BlockClaimName(netip.PrefixFrom(a, blockBits).Masked()),
		}
	}
	return claim
}

// blockClaim returns a Block claim of pool for cidr, made by node.
func blockClaim(pool, cidr, node string) *ipamv1alpha1.IPClaim {
	return &ipamv1alpha1.IPClaim{
		ObjectMeta: metav1.ObjectMeta{
			Name:   ipspace.BlockClaimName(netip.MustParsePrefix(cidr)),
			Labels: map[string]string{ipamv1alpha1.LabelPool: pool, ipamv1alpha1.LabelNode: node},
		},
		Spec: ipamv1alpha1.IPClaimSpec{Pool: pool, Type: ipamv1alpha1.ClaimTypeBlock, CIDR: cidr, Node: node},
	}
}

// mustPrefix parses a prefix.
func mustPrefix(t *testing.T, s string) netip.Prefix {
	t.Helper()
	p, err := netip.ParsePrefix(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// runtimeOwner is the owner a non-Kubernetes runtime records: no pod.
func runtimeOwner(containerID string) *ipamv1alpha1.ClaimOwner {
	return &ipamv1alpha1.ClaimOwner{ContainerID: containerID, Interface: "eth0"}
}

// podOwner is the owner the plugin records for a pod's eth0.
func podOwner(pod *corev1.Pod) *ipamv1alpha1.ClaimOwner {
	return &ipamv1alpha1.ClaimOwner{
		Namespace: pod.Namespace, Name: pod.Name, Pod: pod.Namespace + "/" + pod.Name, UID: string(pod.UID),
		ContainerID: "sandbox-" + string(pod.UID), Interface: "eth0",
	}
}

// createClaim creates claim and deletes it at cleanup if it still exists.
func createClaim(t *testing.T, claim *ipamv1alpha1.IPClaim) *ipamv1alpha1.IPClaim {
	t.Helper()
	if err := env.Client.Create(context.Background(), claim); err != nil {
		t.Fatalf("create IPClaim %s: %v", claim.Name, err)
	}
	name := claim.Name
	t.Cleanup(func() {
		obj := &ipamv1alpha1.IPClaim{ObjectMeta: metav1.ObjectMeta{Name: name}}
		if err := env.Client.Delete(context.Background(), obj); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("delete IPClaim %s: %v", name, err)
		}
	})
	return claim
}

// deleteClaim deletes a claim by name.
func deleteClaim(t *testing.T, name string) {
	t.Helper()
	obj := &ipamv1alpha1.IPClaim{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := env.Client.Delete(context.Background(), obj); err != nil {
		t.Fatalf("delete IPClaim %s: %v", name, err)
	}
}

// createPod creates a pod in the default namespace and deletes it at
// cleanup. Without a kubelet it never runs and never gets an IP.
func createPod(t *testing.T, name string) *corev1.Pod {
	t.Helper()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: metav1.NamespaceDefault, Name: name},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.k8s.io/pause:3.10"}}},
	}
	if err := env.Client.Create(context.Background(), pod); err != nil {
		t.Fatalf("create pod %s: %v", name, err)
	}
	t.Cleanup(func() { deletePod(t, pod.Name) })
	return pod
}

// deletePod deletes a pod at once (there is no kubelet to wait for) and
// waits until it is gone.
func deletePod(t *testing.T, name string) {
	t.Helper()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: metav1.NamespaceDefault, Name: name}}
	if err := env.Client.Delete(context.Background(), pod, client.GracePeriodSeconds(0)); err != nil && !apierrors.IsNotFound(err) {
		t.Fatalf("delete pod %s: %v", name, err)
	}
	eventually(t, 10*time.Second, func() error { return expectGone(pod) })
}

// getPool reads a pool from the API server.
func getPool(name string) (*ipamv1alpha1.IPPool, error) {
	pool := &ipamv1alpha1.IPPool{}
	return pool, env.Client.Get(context.Background(), types.NamespacedName{Name: name}, pool)
}

// getClaim reads a claim from the API server.
func getClaim(name string) (*ipamv1alpha1.IPClaim, error) {
	claim := &ipamv1alpha1.IPClaim{}
	return claim, env.Client.Get(context.Background(), types.NamespacedName{Name: name}, claim)
}

// expectCondition returns nil when conditions hold t with status and
// reason, and a message containing each of words.
func expectCondition(conditions []metav1.Condition, t string, status metav1.ConditionStatus, reason string, words ...string) error {
	c := meta.FindStatusCondition(conditions, t)
	if c == nil {
		return fmt.Errorf("no %s condition in %+v", t, conditions)
	}
	if c.Status != status || c.Reason != reason {
		return fmt.Errorf("%s is %s/%s (%q); want %s/%s", t, c.Status, c.Reason, c.Message, status, reason)
	}
	for _, w := range words {
		if !strings.Contains(c.Message, w) {
			return fmt.Errorf("%s message %q does not contain %q", t, c.Message, w)
		}
	}
	return nil
}

// expectEvent returns nil once an event with reason and type regards the
// object named name.
func expectEvent(name, reason, eventType string) error {
	list := &eventsv1.EventList{}
	if err := env.Client.List(context.Background(), list, client.InNamespace(metav1.NamespaceDefault)); err != nil {
		return err
	}
	for _, e := range list.Items {
		if e.Regarding.Name == name && e.Reason == reason && e.Type == eventType {
			return nil
		}
	}
	return fmt.Errorf("no %s event %s regarding %s", eventType, reason, name)
}

// scrape reads the manager's /metrics and returns the value of every sample
// by its name and labels as printed, e.g. `ipkeeper_pool_free{pool="p"}`.
func scrape() (map[string]float64, error) {
	resp, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	samples := map[string]float64{}
	lines := bufio.NewScanner(resp.Body)
	for lines.Scan() {
		line := lines.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			return nil, fmt.Errorf("parse sample %q: %w", line, err)
		}
		samples[line[:i]] = v
	}
	return samples, lines.Err()
}
