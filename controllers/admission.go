package controllers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
)

// fieldOwner is the field manager of what the operator applies.
const fieldOwner = "ipkeeper-operator"

// +kubebuilder:rbac:groups=admissionregistration.k8s.io,resources=validatingadmissionpolicies;validatingadmissionpolicybindings,verbs=create
// +kubebuilder:rbac:groups=admissionregistration.k8s.io,resources=validatingadmissionpolicies;validatingadmissionpolicybindings,verbs=patch,resourceNames=ipkeeper-node-claims
// +kubebuilder:rbac:groups=admissionregistration.k8s.io,resources=validatingwebhookconfigurations,verbs=list;patch
// +kubebuilder:rbac:groups=authentication.k8s.io,resources=selfsubjectreviews,verbs=create

// AdmissionSetup puts the admission rules that keep the allocation path off
// the operator in force, when the manager starts and again every Resync, on
// every replica:
//   - the node-claims ValidatingAdmissionPolicy and its binding, applied
//     with this operator's own identity, so that an install that cannot ship
//     them (an OLM bundle) has them too;
//   - the match condition that keeps node-bound requests away from the
//     IPClaim webhook, added wherever the webhook is registered without it
//     (OLM registers webhooks from the CSV, which cannot carry one).
type AdmissionSetup struct {
	Client client.Client
	// Reader lists webhook configurations around the cache.
	Reader client.Reader
	// Authority names the node service account and the prefix; the
	// operator's own username is looked up when empty.
	Authority NodeAuthority
	// RetryInterval is how long to wait after a failed attempt, Resync
	// after a successful one.
	RetryInterval, Resync time.Duration
}

var _ manager.LeaderElectionRunnable = (*AdmissionSetup)(nil)

// NeedLeaderElection returns false: applying the same objects from every
// replica is harmless, and a replica waiting for leadership must not leave
// the cluster without the policy.
func (a *AdmissionSetup) NeedLeaderElection() bool { return false }

// Start applies the admission rules until ctx ends.
func (a *AdmissionSetup) Start(ctx context.Context) error {
	log := logf.FromContext(ctx).WithValues("policy", a.Authority.PolicyName())
	for {
		wait := a.Resync
		if err := a.Apply(ctx); err != nil && ctx.Err() == nil {
			log.Error(err, "Cannot put the node admission rules in force; retrying", "after", a.RetryInterval)
			wait = a.RetryInterval
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// Apply puts the rules in force once.
func (a *AdmissionSetup) Apply(ctx context.Context) error {
	if a.Authority.OperatorUser == "" {
		user, err := whoAmI(ctx, a.Client)
		if err != nil {
			return err
		}
		a.Authority.OperatorUser = user // the operator's identity does not change
	}
	authority := a.Authority
	opts := []client.ApplyOption{client.FieldOwner(fieldOwner), client.ForceOwnership}
	if err := a.Client.Apply(ctx, authority.Policy(), opts...); err != nil {
		return fmt.Errorf("apply ValidatingAdmissionPolicy %s: %w", authority.PolicyName(), err)
	}
	if err := a.Client.Apply(ctx, authority.Binding(), opts...); err != nil {
		return fmt.Errorf("apply ValidatingAdmissionPolicyBinding %s: %w", authority.PolicyName(), err)
	}
	return a.ensureClaimMatchCondition(ctx)
}

// whoAmI returns the username the API server knows the operator by.
func whoAmI(ctx context.Context, c client.Client) (string, error) {
	review := &authenticationv1.SelfSubjectReview{}
	if err := c.Create(ctx, review); err != nil {
		return "", fmt.Errorf("ask the API server who the operator is: %w", err)
	}
	if review.Status.UserInfo.Username == "" {
		return "", errors.New("ask the API server who the operator is: it named no user")
	}
	return review.Status.UserInfo.Username, nil
}

// notNodeBound keeps node-bound requests away from the IPClaim webhook.
var notNodeBound = admissionregistrationv1.MatchCondition{
	Name: ipamv1alpha1.NotNodeBoundCondition, Expression: ipamv1alpha1.NotNodeBoundExpression,
}

// ensureClaimMatchCondition puts notNodeBound on every registration of the
// IPClaim webhook that lacks it, or carries another condition of its name.
func (a *AdmissionSetup) ensureClaimMatchCondition(ctx context.Context) error {
	configs := &admissionregistrationv1.ValidatingWebhookConfigurationList{}
	if err := a.Reader.List(ctx, configs); err != nil {
		return fmt.Errorf("list ValidatingWebhookConfigurations: %w", err)
	}
	for i := range configs.Items {
		cfg := &configs.Items[i]
		for j, wh := range cfg.Webhooks {
			if wh.Name != ipamv1alpha1.ClaimWebhookName || slices.Contains(wh.MatchConditions, notNodeBound) {
				continue
			}
			if err := a.setMatchCondition(ctx, cfg, j); err != nil {
				return err
			}
		}
	}
	return nil
}

// setMatchCondition replaces any condition of notNodeBound's name on
// webhook index of cfg with notNodeBound, keeping the others, with a JSON
// patch that fails if cfg changed since it was read.
func (a *AdmissionSetup) setMatchCondition(ctx context.Context, cfg *admissionregistrationv1.ValidatingWebhookConfiguration, index int) error {
	conditions := slices.DeleteFunc(slices.Clone(cfg.Webhooks[index].MatchConditions), func(c admissionregistrationv1.MatchCondition) bool {
		return c.Name == notNodeBound.Name
	})
	patch, err := json.Marshal([]map[string]any{
		{"op": "test", "path": "/metadata/resourceVersion", "value": cfg.ResourceVersion},
		{"op": "add", "path": fmt.Sprintf("/webhooks/%d/matchConditions", index), "value": append(conditions, notNodeBound)},
	})
	if err == nil {
		err = a.Client.Patch(ctx, cfg, client.RawPatch(types.JSONPatchType, patch))
	}
	if err != nil {
		return fmt.Errorf("set match condition %s on webhook %s of %s: %w", notNodeBound.Name, ipamv1alpha1.ClaimWebhookName, cfg.Name, err)
	}
	logf.FromContext(ctx).Info("Kept node-bound requests away from the IPClaim webhook", "validatingwebhookconfiguration", cfg.Name)
	return nil
}
