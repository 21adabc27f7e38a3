package harness

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
)

// The operator's namespace, its Deployment and service account, and the
// node agent's service account, as the kustomize install names them.
const (
	OperatorNamespace  = "ipkeeper-system"
	OperatorName       = "ipkeeper-controller-manager"
	NodeServiceAccount = "ipkeeper-node"
)

// tokenLifetime is the lifetime of the tokens the tests request: longer
// than any test or benchmark runs.
const tokenLifetime = 2 * 60 * 60

// NewNodeAgentPod creates with c, in the operator's namespace, a pod of the
// node agent's service account scheduled on node, as the node agent's
// DaemonSet makes one: the pod a projected token is bound to. The
// namespace and the service account are created when missing; the node
// must exist.
func NewNodeAgentPod(ctx context.Context, c client.Client, name, node string) (*corev1.Pod, error) {
	for _, obj := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: OperatorNamespace}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: OperatorNamespace, Name: NodeServiceAccount}},
	} {
		if err := c.Create(ctx, obj); err != nil && !apierrors.IsAlreadyExists(err) {
			return nil, fmt.Errorf("create %T %s: %w", obj, obj.GetName(), err)
		}
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: OperatorNamespace, Name: name},
		Spec: corev1.PodSpec{
			NodeName: node, ServiceAccountName: NodeServiceAccount, AutomountServiceAccountToken: ptr.To(false),
			Containers: []corev1.Container{{Name: "node-agent", Image: "registry.invalid/ipkeeper:test"}},
		},
	}
	if err := c.Create(ctx, pod); err != nil {
		return nil, fmt.Errorf("create the node agent pod %s on %s: %w", name, node, err)
	}
	return pod, nil
}

// CreateNodeAgentPod is NewNodeAgentPod for a test: the pod is deleted when
// the test ends.
func (e *Env) CreateNodeAgentPod(t testing.TB, name, node string) *corev1.Pod {
	t.Helper()
	pod, err := NewNodeAgentPod(context.Background(), e.Client, name, node)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.DeletePod(t, pod) })
	return pod
}

// NodeToken creates node and a node agent pod on it, and returns a token
// of the node service account bound to that pod: what the kubelet projects
// into the node agent's pod, the credential of the node's plugin. The
// node and the pod are deleted when the test ends.
func (e *Env) NodeToken(t testing.TB, node string) string {
	t.Helper()
	e.CreateNode(t, node)
	return e.BoundToken(t, e.CreateNodeAgentPod(t, "agent-"+node, node))
}

// BoundToken returns a token of the node service account bound to pod, the
// way the kubelet projects one into the pod's volume: the API server
// authenticates it with the pod's node in the user's extra, for as long as
// the pod exists.
func (e *Env) BoundToken(t testing.TB, pod *corev1.Pod) string {
	t.Helper()
	token, err := RequestBoundToken(context.Background(), e.Client, pod, tokenLifetime)
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// RequestBoundToken requests with c a token of the node service account
// bound to pod, with a lifetime in seconds.
func RequestBoundToken(ctx context.Context, c client.Client, pod *corev1.Pod, lifetime int64) (string, error) {
	return requestToken(ctx, c, NodeServiceAccount, &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID}, lifetime)
}

// UnboundToken returns a token of the node service account that is bound
// to nothing, hence to no node.
func (e *Env) UnboundToken(t testing.TB) string {
	t.Helper()
	return e.accountToken(t, NodeServiceAccount)
}

// OperatorToken returns a token of the operator's service account, which
// the test installs.
func (e *Env) OperatorToken(t testing.TB) string {
	t.Helper()
	return e.accountToken(t, OperatorName)
}

// accountToken returns a token, bound to nothing, of the service account
// name in the operator's namespace.
func (e *Env) accountToken(t testing.TB, name string) string {
	t.Helper()
	token, err := requestToken(context.Background(), e.Client, name, nil, tokenLifetime)
	if err != nil {
		t.Fatal(err)
	}
	return token
}

func requestToken(ctx context.Context, c client.Client, account string, bound *authenticationv1.BoundObjectReference, lifetime int64) (string, error) {
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: OperatorNamespace, Name: account}}
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		ExpirationSeconds: ptr.To(lifetime), BoundObjectRef: bound,
	}}
	if err := c.SubResource("token").Create(ctx, sa, req); err != nil {
		return "", fmt.Errorf("request a token of %s/%s: %w", OperatorNamespace, account, err)
	}
	return req.Status.Token, nil
}

// TokenConfig returns a client configuration that authenticates with token
// only.
func (e *Env) TokenConfig(token string) *rest.Config {
	return &rest.Config{Host: e.Config.Host, BearerToken: token, TLSClientConfig: rest.TLSClientConfig{CAData: e.Config.CAData}}
}

// TokenClient returns a client that authenticates with token only.
func (e *Env) TokenClient(t testing.TB, token string) client.Client {
	t.Helper()
	c, err := client.New(e.TokenConfig(token), client.Options{Scheme: e.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// PolicyDenial starts the message of every refusal of the node-claims
// admission policy, as config/default names it.
const PolicyDenial = "ValidatingAdmissionPolicy 'ipkeeper-node-claims' with binding 'ipkeeper-node-claims' denied request: "

// IsPolicyDenial reports whether err is a refusal of the node-claims
// admission policy.
func IsPolicyDenial(err error) bool {
	return apierrors.IsForbidden(err) && strings.Contains(err.Error(), PolicyDenial)
}

// WaitForNodePolicy waits until the admission policy refuses nodeClient, a
// client with a node's credential, a claim for another node: until then
// the API server has not compiled the policy just installed.
func (e *Env) WaitForNodePolicy(t testing.TB, nodeClient client.Client, timeout time.Duration) {
	t.Helper()
	probe := AddressClaim("policy-probe", "policy-probe-node", "10.255.255.1", 24, RuntimeOwner("c-probe"))
	_ = e.WaitForPolicyDenial(t, nodeClient, probe, timeout) // the refusal is all it waits for
}

// WaitForPolicyDenial creates claim with c until the admission policy
// refuses it, and returns the refusal. The API server compiles a policy
// just installed in the background, and an account just made reaches its
// authorizer a moment later: what passes meanwhile is deleted, and tried
// again.
func (e *Env) WaitForPolicyDenial(t testing.TB, c client.Client, claim *ipamv1alpha1.IPClaim, timeout time.Duration) error {
	t.Helper()
	var err error
	Eventually(t, timeout, func() error {
		err = c.Create(context.Background(), claim.DeepCopy())
		switch {
		case err == nil:
			_ = e.Client.Delete(context.Background(), claim)
			return fmt.Errorf("claim %s for node %s passed the admission policy", claim.Name, claim.Spec.Node)
		case IsPolicyDenial(err):
			return nil
		}
		return fmt.Errorf("claim %s for node %s: %w (want a denial by the admission policy)", claim.Name, claim.Spec.Node, err)
	})
	return err
}
