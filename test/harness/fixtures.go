package harness

import (
	"context"
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
)

const (
	// poolTimeout bounds the wait for the operator to report on a pool,
	// and to let a deleted one go.
	poolTimeout = 30 * time.Second
	// podTimeout bounds the wait for a deleted pod to go.
	podTimeout = 10 * time.Second
)

// CreatePool creates a pool and, when the test ends, deletes it with
// whatever claims it still has and waits until it is gone.
func (e *Env) CreatePool(t testing.TB, name string, spec ipamv1alpha1.IPPoolSpec) {
	t.Helper()
	pool := &ipamv1alpha1.IPPool{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec}
	if err := e.Client.Create(context.Background(), pool); err != nil {
		t.Fatalf("create IPPool %s: %v", name, err)
	}
	t.Cleanup(func() { e.DeletePool(t, name) })
}

// CreateReadyPool is CreatePool that also waits until the operator reports
// the pool Ready, as a node's first ADD needs.
func (e *Env) CreateReadyPool(t testing.TB, name string, spec ipamv1alpha1.IPPoolSpec) {
	t.Helper()
	e.CreatePool(t, name, spec)
	e.WaitForPool(t, name, PoolReady)
}

// PoolReady reports whether the operator reports the pool Ready.
func PoolReady(p *ipamv1alpha1.IPPool) bool {
	return meta.IsStatusConditionTrue(p.Status.Conditions, ipamv1alpha1.PoolReady)
}

// GetPool reads a pool from the API server.
func (e *Env) GetPool(name string) (*ipamv1alpha1.IPPool, error) {
	pool := &ipamv1alpha1.IPPool{}
	return pool, e.Client.Get(context.Background(), client.ObjectKey{Name: name}, pool)
}

// PoolHolds returns nil when cond holds for the pool as the API server has
// it: a check for Poll and Eventually.
func (e *Env) PoolHolds(name string, cond func(*ipamv1alpha1.IPPool) bool) error {
	pool, err := e.GetPool(name)
	if err != nil {
		return err
	}
	if !cond(pool) {
		return fmt.Errorf("pool %s has not reached the expected state: status %+v", name, pool.Status)
	}
	return nil
}

// WaitForPool waits until cond holds for the pool.
func (e *Env) WaitForPool(t testing.TB, name string, cond func(*ipamv1alpha1.IPPool) bool) {
	t.Helper()
	Eventually(t, poolTimeout, func() error { return e.PoolHolds(name, cond) })
}

// SetPoolDisabled sets spec.disabled of a pool.
func (e *Env) SetPoolDisabled(t testing.TB, name string, disabled bool) {
	t.Helper()
	pool, err := e.GetPool(name)
	if err != nil {
		t.Fatal(err)
	}
	orig := pool.DeepCopy()
	pool.Spec.Disabled = disabled
	if err := e.Client.Patch(context.Background(), pool, client.MergeFrom(orig)); err != nil {
		t.Fatalf("set spec.disabled of IPPool %s: %v", name, err)
	}
}

// DeletePool deletes a pool and its claims and waits until the pool is
// gone; a pool already gone is fine.
func (e *Env) DeletePool(t testing.TB, name string) {
	t.Helper()
	ctx := context.Background()
	err := e.Client.DeleteAllOf(ctx, &ipamv1alpha1.IPClaim{}, client.MatchingFields{ipamv1alpha1.FieldPool: name})
	if err != nil {
		t.Errorf("delete claims of IPPool %s: %v", name, err)
	}
	pool := &ipamv1alpha1.IPPool{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := e.Client.Delete(ctx, pool); err != nil && !apierrors.IsNotFound(err) {
		t.Errorf("delete IPPool %s: %v", name, err)
	}
	Eventually(t, poolTimeout, func() error { return e.ExpectGone(pool) })
}

// PoolClaims lists a pool's claims from the API server.
func (e *Env) PoolClaims(t testing.TB, pool string) []ipamv1alpha1.IPClaim {
	t.Helper()
	var list ipamv1alpha1.IPClaimList
	if err := e.Client.List(context.Background(), &list, client.MatchingFields{ipamv1alpha1.FieldPool: pool}); err != nil {
		t.Fatalf("list claims of IPPool %s: %v", pool, err)
	}
	return list.Items
}

// AddressClaims returns the pool's Address claims by address.
func (e *Env) AddressClaims(t testing.TB, pool string) map[string]ipamv1alpha1.IPClaim {
	t.Helper()
	out := map[string]ipamv1alpha1.IPClaim{}
	for _, c := range e.PoolClaims(t, pool) {
		if c.Spec.Type == ipamv1alpha1.ClaimTypeAddress {
			out[c.Spec.Address] = c
		}
	}
	return out
}

// ExpectGone returns nil once obj no longer exists; it reads obj's current
// state into obj while it does.
func (e *Env) ExpectGone(obj client.Object) error {
	err := e.Client.Get(context.Background(), client.ObjectKeyFromObject(obj), obj)
	switch {
	case apierrors.IsNotFound(err):
		return nil
	case err != nil:
		return err
	}
	return fmt.Errorf("%T %s still exists", obj, obj.GetName())
}

// CreateNode creates the Node object of a simulated node, so that the
// operator does not take the node for a deleted one and release its
// blocks, and deletes it when the test ends if it still exists.
func (e *Env) CreateNode(t testing.TB, name string) *corev1.Node {
	t.Helper()
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := e.Client.Create(context.Background(), node); err != nil {
		t.Fatalf("create node %s: %v", name, err)
	}
	t.Cleanup(func() {
		if err := e.Client.Delete(context.Background(), node); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("delete node %s: %v", name, err)
		}
	})
	return node
}

// DeleteNode deletes a node, as when it leaves the cluster.
func (e *Env) DeleteNode(t testing.TB, name string) {
	t.Helper()
	if err := e.Client.Delete(context.Background(), &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
		t.Fatalf("delete node %s: %v", name, err)
	}
}

// CreateNamespace creates a namespace with annotations unless it exists.
// Namespaces stay when the test ends: without a controller manager, a
// deleted namespace stays Terminating for good and refuses new pods.
func (e *Env) CreateNamespace(t testing.TB, name string, annotations map[string]string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: annotations}}
	if err := e.Client.Create(context.Background(), ns); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("create namespace %s: %v", name, err)
	}
}

// Pod returns a pod with annotations. Without a kubelet it never runs and
// never gets an IP; it exists for the plugin and the operator to read.
func Pod(namespace, name string, annotations map[string]string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Annotations: annotations},
		Spec: corev1.PodSpec{
			AutomountServiceAccountToken: new(bool),
			Containers:                   []corev1.Container{{Name: "app", Image: "registry.invalid/app:1"}},
		},
	}
}

// CreatePod creates Pod(namespace, name, annotations), and its namespace
// unless it exists, and deletes the pod when the test ends.
func (e *Env) CreatePod(t testing.TB, namespace, name string, annotations map[string]string) *corev1.Pod {
	t.Helper()
	e.CreateNamespace(t, namespace, nil)
	pod := Pod(namespace, name, annotations)
	if err := e.Client.Create(context.Background(), pod); err != nil {
		t.Fatalf("create pod %s/%s: %v", namespace, name, err)
	}
	t.Cleanup(func() { e.DeletePod(t, pod) })
	return pod
}

// DeletePod deletes the pod of pod's namespace and name at once (there is
// no kubelet to wait for) and waits until it is gone; a pod already gone is
// fine.
func (e *Env) DeletePod(t testing.TB, pod *corev1.Pod) {
	t.Helper()
	key := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: pod.Namespace, Name: pod.Name}}
	if err := e.Client.Delete(context.Background(), key, client.GracePeriodSeconds(0)); err != nil && !apierrors.IsNotFound(err) {
		t.Fatalf("delete pod %s/%s: %v", pod.Namespace, pod.Name, err)
	}
	Eventually(t, podTimeout, func() error { return e.ExpectGone(key) })
}

// CreateClaim creates claim and deletes it when the test ends if it still
// exists.
func (e *Env) CreateClaim(t testing.TB, claim *ipamv1alpha1.IPClaim) *ipamv1alpha1.IPClaim {
	t.Helper()
	if err := e.Client.Create(context.Background(), claim); err != nil {
		t.Fatalf("create IPClaim %s: %v", claim.Name, err)
	}
	name := claim.Name
	t.Cleanup(func() {
		obj := &ipamv1alpha1.IPClaim{ObjectMeta: metav1.ObjectMeta{Name: name}}
		if err := e.Client.Delete(context.Background(), obj); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("delete IPClaim %s: %v", name, err)
		}
	})
	return claim
}

// DeleteClaim deletes a claim by name.
func (e *Env) DeleteClaim(t testing.TB, name string) {
	t.Helper()
	obj := &ipamv1alpha1.IPClaim{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := e.Client.Delete(context.Background(), obj); err != nil {
		t.Fatalf("delete IPClaim %s: %v", name, err)
	}
}

// CreateOperatorDeployment creates, in the operator's namespace (created
// too when missing), a Deployment named as the kustomize install names the
// operator's, whose manager container runs image: what the operator reads
// its own image and the node agent's owner from. Nothing runs it: the test
// control plane has no controller manager.
func (e *Env) CreateOperatorDeployment(image string) (*appsv1.Deployment, error) {
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: OperatorNamespace}}
	if err := e.Client.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("create namespace %s: %w", OperatorNamespace, err)
	}
	labels := map[string]string{"app": "operator"}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: OperatorNamespace, Name: OperatorName},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "manager", Image: image}}},
			},
		},
	}
	if err := e.Client.Create(ctx, d); err != nil {
		return nil, fmt.Errorf("create Deployment %s/%s: %w", OperatorNamespace, OperatorName, err)
	}
	return d, nil
}
