package authority

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/cni/libcni"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
	"github.com/ipkeeper/ipkeeper/test/harness"
)

// policyTimeout bounds the wait for the API server to put a newly applied
// admission policy in force: it compiles policies in the background.
const policyTimeout = 30 * time.Second

// installAuthority installs what config/default installs for the node
// side: the service accounts, the ClusterRoles and their bindings, and the
// node-claims admission policy with its binding.
func installAuthority(t *testing.T) {
	t.Helper()
	env.InstallRendered(t, "ServiceAccount", "ClusterRole", "ClusterRoleBinding",
		"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding")
}

// expectPolicyDenial fails unless err is the policy's refusal with message.
func expectPolicyDenial(t *testing.T, err error, message string) {
	t.Helper()
	if !harness.IsPolicyDenial(err) || !strings.HasSuffix(err.Error(), harness.PolicyDenial+message) {
		t.Fatalf("error = %v\nwant the admission policy's refusal: %s", err, message)
	}
}

// grantNodeUpdates lets the node service account also update claims, which
// the plugin never does and its ClusterRole does not allow, so that a test
// shows the admission policy, not RBAC, refusing another node's.
func grantNodeUpdates(t *testing.T) {
	t.Helper()
	role := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "test-node-updates"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{ipamv1alpha1.GroupVersion.Group}, Resources: []string{"ipclaims"}, Verbs: []string{"update", "patch"}}},
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: role.Name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: harness.OperatorNamespace, Name: harness.NodeServiceAccount}},
	}
	for _, obj := range []client.Object{role, binding} {
		if err := env.Client.Create(context.Background(), obj); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = env.Client.Delete(context.Background(), obj) })
	}
}

// deleteClaim deletes claim if it exists, as an administrator: the end of
// a test that may or may not have made it.
func deleteClaim(claim *ipamv1alpha1.IPClaim) {
	_ = env.Client.Delete(context.Background(), &ipamv1alpha1.IPClaim{ObjectMeta: metav1.ObjectMeta{Name: claim.Name}})
}

// tokenNode is a simulated node whose plugin runs with nothing but a
// kubeconfig holding token, as the node agent writes it.
type tokenNode struct {
	name string
	cni  *libcni.CNIConfig
	ipam map[string]any
}

func newTokenNode(t *testing.T, name, token string, pools ...string) *tokenNode {
	t.Helper()
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "ipkeeper.kubeconfig")
	if err := harness.WriteKubeconfig(env.TokenConfig(token), kubeconfig); err != nil {
		t.Fatal(err)
	}
	return &tokenNode{
		name: name,
		cni:  libcni.NewCNIConfigWithCacheDir([]string{binDir}, filepath.Join(dir, "cache"), nil),
		ipam: harness.IPAMConfig(kubeconfig, name, filepath.Join(dir, "data"), pools...),
	}
}

// waitForInvalid waits until the claim is marked Invalid for reason.
func waitForInvalid(t *testing.T, name, reason string) ipamv1alpha1.IPClaim {
	t.Helper()
	var claim ipamv1alpha1.IPClaim
	harness.Eventually(t, 30*time.Second, func() error {
		if err := env.Client.Get(context.Background(), client.ObjectKey{Name: name}, &claim); err != nil {
			return err
		}
		for _, c := range claim.Status.Conditions {
			if c.Type == ipamv1alpha1.ClaimInvalid && c.Status == metav1.ConditionTrue && c.Reason == reason {
				return nil
			}
		}
		return errors.New("not marked Invalid " + reason + " yet")
	})
	return claim
}
