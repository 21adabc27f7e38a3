package webhooks

import (
	"context"
	"slices"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
)

// createObject creates a built-in object and deletes it, at once and
// without waiting, when the test ends. Pods are deleted without grace: no
// kubelet runs to confirm a graceful stop.
func createObject(t *testing.T, obj client.Object) {
	t.Helper()
	ctx := context.Background()
	if err := env.Client.Create(ctx, obj); err != nil {
		t.Fatalf("create %T %s: %v", obj, obj.GetName(), err)
	}
	t.Cleanup(func() {
		err := env.Client.Delete(ctx, obj, client.GracePeriodSeconds(0))
		if err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("delete %T %s: %v", obj, obj.GetName(), err)
		}
	})
}

// nodeToken returns a service-account token from the TokenRequest API,
// bound to pod, the way the kubelet projects one into a pod's volume.
func nodeToken(t *testing.T, sa *corev1.ServiceAccount, pod *corev1.Pod) string {
	t.Helper()
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		ExpirationSeconds: ptr.To[int64](600),
		BoundObjectRef:    &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID},
	}}
	if err := env.Client.SubResource("token").Create(context.Background(), sa, req); err != nil {
		t.Fatalf("request a token for %s bound to pod %s: %v", sa.Name, pod.Name, err)
	}
	return req.Status.Token
}

// bearerClient returns a client that authenticates with token only.
func bearerClient(t *testing.T, token string) client.Client {
	t.Helper()
	cfg := &rest.Config{
		Host:            env.Config.Host,
		BearerToken:     token,
		TLSClientConfig: rest.TLSClientConfig{CAData: env.Config.CAData},
	}
	c, err := client.New(cfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The CNI plugin on a node authenticates with a token bound to a pod on
// that node (the node installer's DaemonSet pod). Such a token may claim
// for its own node only.
func TestNodeBoundToken(t *testing.T) {
	ctx := context.Background()
	create(t, pool("nodes", "10.60.0.0/16"))
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ipkeeper-node-identity"}}
	createObject(t, ns)
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: "ipkeeper-node"}}
	createObject(t, sa)
	for _, name := range []string{"node-a", "node-b"} {
		createObject(t, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}})
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: "ipkeeper-node-a"},
		Spec: corev1.PodSpec{
			NodeName: "node-a", ServiceAccountName: sa.Name,
			Containers: []corev1.Container{{Name: "install", Image: "registry.k8s.io/pause:3.10"}},
		},
	}
	createObject(t, pod)
	role := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "ipkeeper-node-identity-test"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{ipamv1alpha1.GroupVersion.Group}, Resources: []string{"ipclaims"}, Verbs: []string{"create", "get"}}},
	}
	createObject(t, role)
	createObject(t, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: role.Name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns.Name, Name: sa.Name}},
	})

	node := bearerClient(t, nodeToken(t, sa, pod))
	review := &authenticationv1.SelfSubjectReview{}
	if err := node.Create(ctx, review); err != nil {
		t.Fatalf("self subject review with the pod-bound token: %v", err)
	}
	if got := review.Status.UserInfo.Extra[nodeNameKey]; !slices.Equal(got, []string{"node-a"}) {
		t.Fatalf("the API server authenticates the token as %s with %s = %v; want [node-a] (pod-bound tokens carry the pod's node)",
			review.Status.UserInfo.Username, nodeNameKey, got)
	}

	own := podClaim("nodes", "10.60.0.5", "node-a-pod")
	if err := node.Create(ctx, own); err != nil {
		t.Fatalf("node-a's token may claim for node-a: %v", err)
	}
	t.Cleanup(func() { remove(t, own) })

	foreign := podClaim("nodes", "10.60.0.6", "node-b-pod")
	foreign.Spec.Node, foreign.Labels[ipamv1alpha1.LabelNode] = "node-b", "node-b"
	err := node.Create(ctx, foreign)
	if err == nil {
		t.Cleanup(func() { remove(t, foreign) })
	}
	expectDenied(t, err, claimWebhook, foreign.Name,
		`spec.node: Invalid value: "node-b": the request comes from system:serviceaccount:ipkeeper-node-identity:ipkeeper-node with a token bound to node "node-a", which may only claim for itself: set spec.node to "node-a"`)

	// The administrator's credentials carry no node: any node is fine.
	if err := env.Client.Create(ctx, foreign); err != nil {
		t.Fatalf("an administrator may claim for node-b: %v", err)
	}
	t.Cleanup(func() { remove(t, foreign) })
}
