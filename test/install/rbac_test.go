package install

import (
	"context"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ipkeeper/ipkeeper/controllers"
	"github.com/ipkeeper/ipkeeper/test/harness"
	"github.com/ipkeeper/ipkeeper/test/harness/operator"
)

// TestOperatorRightsSufficeForTheAdmissionRules runs the operator's
// admission setup with the rendered operator account's own token: its
// ClusterRole, which names the policy it may change, lets it create and
// then change the policy and its binding and keep the match condition on
// the IPClaim webhook, as in a cluster.
func TestOperatorRightsSufficeForTheAdmissionRules(t *testing.T) {
	ctx := context.Background()
	cluster.StopOperatorFor(t) // its own periodic setup, as another user, would rewrite the policy
	env.InstallRendered(t, "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")
	asOperator := env.TokenClient(t, env.OperatorToken(t))
	setup := &controllers.AdmissionSetup{
		Client: asOperator, Reader: asOperator,
		Authority: controllers.NodeAuthority{NamePrefix: controllers.PolicyNamePrefix, NodeUser: controllers.ServiceAccountUser(harness.OperatorNamespace, harness.NodeServiceAccount)},
	}
	// The API server authorizes from its own cache of the bindings just
	// installed: until it holds them, it refuses.
	harness.Eventually(t, time.Minute, func() error {
		err := setup.Apply(ctx)
		if apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err) {
			return err
		}
		if err != nil {
			t.Fatalf("create the admission rules with the operator's rights: %v", err)
		}
		return nil
	})
	if err := setup.Apply(ctx); err != nil {
		t.Fatalf("change the admission rules with the operator's rights: %v", err)
	}
	policy := &admissionregistrationv1.ValidatingAdmissionPolicy{}
	if err := env.Client.Get(ctx, client.ObjectKey{Name: "ipkeeper-node-claims"}, policy); err != nil {
		t.Fatal(err)
	}
	if want := "system:serviceaccount:ipkeeper-system:ipkeeper-controller-manager"; !strings.Contains(policy.Spec.MatchConditions[0].Expression, want) {
		t.Errorf("the policy's match condition %q does not spare the operator's own user %s", policy.Spec.MatchConditions[0].Expression, want)
	}
}

// TestOperatorRightsSufficeForTheNodeAgent runs the operator's node agent
// reconciler with the rendered operator account's own token, on an API
// server that enforces the permission to set owner references: it makes
// the operator's Deployment the owner of a node agent DaemonSet that had
// none, as after an upgrade from a version that set none or the
// Deployment's recreation.
func TestOperatorRightsSufficeForTheNodeAgent(t *testing.T) {
	ctx := context.Background()
	ds := nodeAgentDaemonSet(t)
	if len(ds.OwnerReferences) != 0 {
		t.Fatalf("the DaemonSet of the test operator, which runs as no Deployment, has owners %v", ds.OwnerReferences)
	}
	cluster.StopOperatorFor(t) // its own node agent reconciler would rewrite the DaemonSet
	env.InstallRendered(t, "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")
	deployment := createOperatorDeployment(t)
	asOperator := env.TokenClient(t, env.OperatorToken(t))
	agent := &controllers.NodeAgentReconciler{
		Client: asOperator, APIReader: asOperator,
		Namespace: harness.OperatorNamespace, Deployment: deployment.Name,
		Agent: operator.Options.NodeAgent,
	}
	// Until the API server's cache holds the bindings just installed, it
	// refuses.
	harness.Eventually(t, time.Minute, func() error {
		_, err := agent.Reconcile(ctx, ctrl.Request{})
		return err
	})
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: harness.OperatorNamespace, Name: controllers.NodeAgentName}, ds); err != nil {
		t.Fatal(err)
	}
	if owner := metav1.GetControllerOf(ds); owner == nil || owner.UID != deployment.UID {
		t.Fatalf("the DaemonSet's controller is %v, want the operator's Deployment %s", owner, deployment.UID)
	}
	// The rule is in force: the same rights may not block the Deployment's
	// deletion, which would take updating its finalizers.
	blocking := ds.DeepCopy()
	blocking.OwnerReferences[0].BlockOwnerDeletion = ptr.To(true)
	err := asOperator.Patch(ctx, blocking, client.MergeFrom(ds))
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "cannot set blockOwnerDeletion") {
		t.Errorf("the operator setting blockOwnerDeletion: %v, want refused by OwnerReferencesPermissionEnforcement", err)
	}
}

// createOperatorDeployment creates the operator's Deployment, which
// nothing runs, and deletes it when the test ends.
func createOperatorDeployment(t *testing.T) *appsv1.Deployment {
	t.Helper()
	d, err := env.CreateOperatorDeployment("registry.invalid/ipkeeper:test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), d) })
	return d
}
