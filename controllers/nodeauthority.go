package controllers

import (
	"fmt"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	admissionv1ac "k8s.io/client-go/applyconfigurations/admissionregistration/v1"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
)

// NodeClaimsPolicyName is the name, before any prefix, of the
// ValidatingAdmissionPolicy that binds node credentials to their own node's
// claims, and of its binding.
const NodeClaimsPolicyName = "node-claims"

// PolicyNamePrefix is the prefix the operator gives the policy's name: the
// namePrefix of the kustomize manifests, so that both installs converge on
// one object.
const PolicyNamePrefix = "ipkeeper-"

// NodeAuthority names who the node-claims policy tells apart. The policy is
// evaluated by the API server itself, so that no node credential can write
// another node's claims whether or not any replica of the operator runs.
type NodeAuthority struct {
	// NamePrefix is put before the names of the policy and its binding, as
	// kustomize's namePrefix does for the manifests in config/.
	NamePrefix string
	// NodeUser is the username of the node agent's service account
	// (system:serviceaccount:<namespace>:<name>): every write of it must
	// carry a token bound to a pod on a node.
	NodeUser string
	// OperatorUser is the username of the operator, whose garbage
	// collector and status writes touch every node's claims. Its own
	// in-cluster token is bound to its pod, and so to a node.
	OperatorUser string
}

// PolicyName returns the name of the policy and of its binding.
func (a NodeAuthority) PolicyName() string {
	return a.NamePrefix + NodeClaimsPolicyName
}

// Policy returns the ValidatingAdmissionPolicy: a request with a node-bound
// credential, or from the node service account, may create, update and
// delete only IPClaims whose spec.node, old and new, is its node.
func (a NodeAuthority) Policy() *admissionv1ac.ValidatingAdmissionPolicyApplyConfiguration {
	return admissionv1ac.ValidatingAdmissionPolicy(a.PolicyName()).
		WithLabels(map[string]string{"app.kubernetes.io/name": "ipkeeper"}).
		WithSpec(admissionv1ac.ValidatingAdmissionPolicySpec().
			WithFailurePolicy(admissionregistrationv1.Fail).
			WithMatchConstraints(admissionv1ac.MatchResources().WithResourceRules(
				admissionv1ac.NamedRuleWithOperations().
					WithAPIGroups(ipamv1alpha1.GroupVersion.Group).
					WithAPIVersions("*").
					WithResources("ipclaims", "ipclaims/status").
					WithOperations(admissionregistrationv1.Create, admissionregistrationv1.Update, admissionregistrationv1.Delete))).
			WithMatchConditions(admissionv1ac.MatchCondition().
				WithName("node-credentials").
				WithExpression(a.matchExpression())).
			WithVariables(admissionv1ac.Variable().
				WithName("node").
				WithExpression(fmt.Sprintf("%[1]q in request.userInfo.extra && size(request.userInfo.extra[%[1]q]) > 0 ? request.userInfo.extra[%[1]q][0] : ''", ipamv1alpha1.NodeNameExtra))).
			WithValidations(a.validations()...))
}

// matchExpression selects the requests the policy judges: those carrying a
// node-bound token, and every request of the node service account; never
// the operator's.
func (a NodeAuthority) matchExpression() string {
	return fmt.Sprintf("request.userInfo.username != %q && (%q in request.userInfo.extra || request.userInfo.username == %q)",
		a.OperatorUser, ipamv1alpha1.NodeNameExtra, a.NodeUser)
}

// validations come in the order the API server reports them: an update of
// another node's claim is refused for whose claim it is.
func (a NodeAuthority) validations() []*admissionv1ac.ValidationApplyConfiguration {
	return []*admissionv1ac.ValidationApplyConfiguration{
		admissionv1ac.Validation().
			WithExpression("variables.node != ''").
			WithReason(metav1.StatusReasonForbidden).
			WithMessageExpression(`request.userInfo.username + ' may write IPClaims only with a token bound to a pod on its node, and this credential names no node: ` +
				`run the CNI plugin with the kubeconfig the ipkeeper node agent writes on the node'`),
		admissionv1ac.Validation().
			WithExpression("variables.node == '' || request.operation == 'CREATE' || (has(oldObject.spec.node) && oldObject.spec.node == variables.node)").
			WithReason(metav1.StatusReasonForbidden).
			WithMessageExpression(`'credentials bound to node ' + variables.node + ' may only change or release IPClaims of node ' + variables.node + ', but IPClaim ' + oldObject.metadata.name + ' belongs to ' + ` +
				`(has(oldObject.spec.node) ? 'node ' + oldObject.spec.node : 'no node') + ': only that node, or an administrator, may change or release it'`),
		admissionv1ac.Validation().
			WithExpression("variables.node == '' || request.operation == 'DELETE' || (has(object.spec.node) && object.spec.node == variables.node)").
			WithReason(metav1.StatusReasonForbidden).
			WithMessageExpression(`'credentials bound to node ' + variables.node + ' may only write IPClaims of node ' + variables.node + ', but IPClaim ' + object.metadata.name + ' names ' + ` +
				`(has(object.spec.node) ? 'node ' + object.spec.node : 'no node') + ': set spec.node to ' + variables.node + ', or make the claim from the node it names'`),
	}
}

// Binding returns the binding that puts the policy in force, denying what
// it refuses.
func (a NodeAuthority) Binding() *admissionv1ac.ValidatingAdmissionPolicyBindingApplyConfiguration {
	return admissionv1ac.ValidatingAdmissionPolicyBinding(a.PolicyName()).
		WithLabels(map[string]string{"app.kubernetes.io/name": "ipkeeper"}).
		WithSpec(admissionv1ac.ValidatingAdmissionPolicyBindingSpec().
			WithPolicyName(a.PolicyName()).
			WithValidationActions(admissionregistrationv1.Deny))
}

// ServiceAccountUser returns the username of a service account.
func ServiceAccountUser(namespace, name string) string {
	return "system:serviceaccount:" + namespace + ":" + name
}
