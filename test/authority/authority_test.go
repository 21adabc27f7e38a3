package authority

import (
	"context"
	"fmt"
	"strings"
	"testing"

	current "github.com/containernetworking/cni/pkg/types/100"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
	"github.com/ipkeeper/ipkeeper/test/harness"
)

// TestPodsStartWithTheOperatorDown stops every replica of the operator,
// controllers and webhook server, with the webhook still registered
// (failurePolicy Fail): a person's claim is refused, but the plugin, with
// a node-bound credential, still gives every pod an address.
func TestPodsStartWithTheOperatorDown(t *testing.T) {
	ctx := context.Background()
	installAuthority(t)
	env.CreateReadyPool(t, "down-v4", ipamv1alpha1.IPPoolSpec{CIDR: "10.70.0.0/24", BlockSize: ptr.To[int32](28)})
	token := env.NodeToken(t, "node-down")
	env.WaitForNodePolicy(t, env.TokenClient(t, token), policyTimeout)
	n := newTokenNode(t, "node-down", token, "down-v4")
	stopEverything(t)

	person := harness.AddressClaim("down-v4", "node-down", "10.70.0.200", 28, harness.RuntimeOwner("c-person"))
	if err := env.Client.Create(ctx, person); err == nil || !strings.Contains(err.Error(), `failed calling webhook "vipclaim.ipam.ipkeeper.dev"`) {
		deleteClaim(person)
		t.Fatalf("a person's claim with the webhook down: %v; want it refused for want of the webhook", err)
	}

	seen := map[string]bool{}
	for i := range 10 {
		pod := env.CreatePod(t, "down", fmt.Sprintf("web-%d", i), nil)
		res, err := n.cni.AddNetworkList(ctx, harness.IPAMNetwork("downnet", n.ipam), harness.RuntimeConf(fmt.Sprintf("c-down-%d", i), pod))
		if err != nil {
			t.Fatalf("ADD %d with the operator down: %v", i, err)
		}
		result, err := current.NewResultFromResult(res)
		if err != nil || len(result.IPs) != 1 {
			t.Fatalf("ADD %d: %v, %v", i, res, err)
		}
		seen[result.IPs[0].Address.IP.String()] = true
	}
	if len(seen) != 10 {
		t.Fatalf("10 ADDs got %d distinct addresses: %v", len(seen), seen)
	}
}

// TestNodeCredentialsWriteOnlyTheirNode has a token bound to a pod on
// node-a try to create, change and release claims of node-b, with the
// operator up and with it down: the admission policy, evaluated by the API
// server itself, refuses each, while node-a's own claims pass.
func TestNodeCredentialsWriteOnlyTheirNode(t *testing.T) {
	installAuthority(t)
	grantNodeUpdates(t)
	env.CreateReadyPool(t, "nodes-v4", ipamv1alpha1.IPPoolSpec{CIDR: "10.71.0.0/24"})
	env.CreateNode(t, "node-b")
	nodeA := env.TokenClient(t, env.NodeToken(t, "node-a"))
	env.WaitForNodePolicy(t, nodeA, policyTimeout)

	for _, operatorUp := range []bool{true, false} {
		t.Run(fmt.Sprintf("operator up %v", operatorUp), func(t *testing.T) {
			if !operatorUp {
				stopEverything(t)
			}
			expectNodeBoundWrites(t, nodeA, operatorUp)
		})
	}
}

// expectNodeBoundWrites checks what node-a's client may do to claims of
// node-a and node-b. Claims are created by an administrator before the
// webhook goes (their addresses differ per run).
func expectNodeBoundWrites(t *testing.T, nodeA client.Client, operatorUp bool) {
	ctx := context.Background()
	base := 10
	if !operatorUp {
		base = 20
	}
	addr := func(i int) string { return fmt.Sprintf("10.71.0.%d", base+i) }
	other := harness.AddressClaim("nodes-v4", "node-b", addr(0), 24, harness.RuntimeOwner("c-b"))
	if operatorUp {
		env.CreateClaim(t, other)
	} else {
		createWithoutWebhook(t, other)
	}

	foreign := harness.AddressClaim("nodes-v4", "node-b", addr(1), 24, harness.RuntimeOwner("c-a1"))
	expectPolicyDenial(t, nodeA.Create(ctx, foreign), fmt.Sprintf(
		"credentials bound to node node-a may only write IPClaims of node node-a, but IPClaim %s names node node-b: set spec.node to node-a, or make the claim from the node it names", addr(1)))

	changed := other.DeepCopy()
	changed.Annotations = map[string]string{"example.com/taken-over": "yes"}
	expectPolicyDenial(t, nodeA.Update(ctx, changed), fmt.Sprintf(
		"credentials bound to node node-a may only change or release IPClaims of node node-a, but IPClaim %s belongs to node node-b: only that node, or an administrator, may change or release it", addr(0)))
	expectPolicyDenial(t, nodeA.Delete(ctx, other), fmt.Sprintf(
		"credentials bound to node node-a may only change or release IPClaims of node node-a, but IPClaim %s belongs to node node-b: only that node, or an administrator, may change or release it", addr(0)))

	own := harness.AddressClaim("nodes-v4", "node-a", addr(2), 24, harness.RuntimeOwner("c-a2"))
	if err := nodeA.Create(ctx, own); err != nil {
		t.Fatalf("node-a creating its own claim: %v", err)
	}
	t.Cleanup(func() { deleteClaim(own) })
	own.Annotations = map[string]string{"example.com/note": "ok"}
	if err := nodeA.Update(ctx, own); err != nil {
		t.Fatalf("node-a changing its own claim: %v", err)
	}
	if err := nodeA.Delete(ctx, own); err != nil {
		t.Fatalf("node-a releasing its own claim: %v", err)
	}
}

// stopEverything stops the operator's controllers and webhooks until the
// test ends.
func stopEverything(t *testing.T) {
	t.Helper()
	cluster.StopOperatorFor(t)
	cluster.StopWebhooksFor(t)
}

// TestNodeAccountNeedsANodeBoundToken has the node service account create,
// change and release claims with a token bound to nothing: the policy
// refuses every write.
func TestNodeAccountNeedsANodeBoundToken(t *testing.T) {
	ctx := context.Background()
	installAuthority(t)
	grantNodeUpdates(t)
	env.CreateReadyPool(t, "unbound-v4", ipamv1alpha1.IPPoolSpec{CIDR: "10.72.0.0/24"})
	env.CreateNode(t, "node-u")
	env.CreateNodeAgentPod(t, "agent-node-u", "node-u") // creates the account
	unbound := env.TokenClient(t, env.UnboundToken(t))
	existing := env.CreateClaim(t, harness.AddressClaim("unbound-v4", "node-u", "10.72.0.6", 24, harness.RuntimeOwner("c-u6")))
	created := harness.AddressClaim("unbound-v4", "node-u", "10.72.0.5", 24, harness.RuntimeOwner("c-u5"))
	changed := existing.DeepCopy()
	changed.Annotations = map[string]string{"example.com/taken-over": "yes"}
	const refusal = "system:serviceaccount:ipkeeper-system:ipkeeper-node may write IPClaims only with a token bound to a pod on its node, " +
		"and this credential names no node: run the CNI plugin with the kubeconfig the ipkeeper node agent writes on the node"
	// Until the API server has compiled the policy just installed, a create
	// passes: it is undone, and tried again.
	err := env.WaitForPolicyDenial(t, unbound, created, policyTimeout)
	expectPolicyDenial(t, err, refusal)
	// The policy is in force: a change or a release that passes is a hole.
	writes := map[string]func() error{
		"update": func() error { return unbound.Update(ctx, changed.DeepCopy()) },
		"delete": func() error { return unbound.Delete(ctx, existing.DeepCopy()) },
	}
	for verb, write := range writes {
		harness.Eventually(t, policyTimeout, func() error {
			if err = write(); err == nil {
				t.Fatalf("the node account without a node-bound token could %s a claim", verb)
			}
			if !harness.IsPolicyDenial(err) {
				return fmt.Errorf("%s: not the policy's refusal yet (the API server may not see the rights just granted): %w", verb, err)
			}
			return nil
		})
		expectPolicyDenial(t, err, refusal)
	}
}

// TestClaimsBreakingTheirPoolAreMarked has a person's claim outside its
// pool refused by the webhook; the same claim stored while the webhook was
// not registered, and a node's claim outside its pool (node-bound requests
// skip the webhook), are marked Invalid by the operator, counted in the
// pool's status, and kept.
func TestClaimsBreakingTheirPoolAreMarked(t *testing.T) {
	ctx := context.Background()
	installAuthority(t)
	env.CreateReadyPool(t, "checked-v4", ipamv1alpha1.IPPoolSpec{CIDR: "10.73.0.0/24"})

	outside := harness.AddressClaim("checked-v4", "node-c", "10.74.0.5", 24, harness.RuntimeOwner("c-out"))
	err := env.Client.Create(ctx, outside.DeepCopy())
	if err == nil || !strings.Contains(err.Error(), `10.74.0.5 lies outside pool "checked-v4" (IPv4 10.73.0.0/24)`) {
		deleteClaim(outside)
		t.Fatalf("a person's claim outside its pool: %v; want the webhook's refusal", err)
	}

	createWithoutWebhook(t, outside)
	claim := waitForInvalid(t, outside.Name, ipamv1alpha1.ReasonOutsidePool)
	wantMessage := "Address 10.74.0.5 lies outside pool checked-v4 (10.73.0.0/24): release the claim once no pod uses it, and claim an address of the pool."
	for _, c := range claim.Status.Conditions {
		if c.Type == ipamv1alpha1.ClaimInvalid && c.Message != wantMessage {
			t.Errorf("Invalid message %q, want %q", c.Message, wantMessage)
		}
	}

	nodeC := env.TokenClient(t, env.NodeToken(t, "node-c"))
	env.WaitForNodePolicy(t, nodeC, policyTimeout)
	first := harness.AddressClaim("checked-v4", "node-c", "10.73.0.7", 24, harness.RuntimeOwner("c-dup"))
	second := harness.AddressClaim("checked-v4", "node-c", "10.73.0.8", 24, harness.RuntimeOwner("c-dup"))
	for _, c := range []*ipamv1alpha1.IPClaim{first, second} {
		if err := nodeC.Create(ctx, c); err != nil {
			t.Fatalf("node-c's claim %s: %v", c.Name, err)
		}
		t.Cleanup(func() { deleteClaim(c) })
	}
	waitForInvalid(t, second.Name, ipamv1alpha1.ReasonDuplicate)
	env.WaitForPool(t, "checked-v4", func(p *ipamv1alpha1.IPPool) bool { return p.Status.InvalidClaims == 2 })

	deleteClaim(outside)
	env.WaitForPool(t, "checked-v4", func(p *ipamv1alpha1.IPPool) bool { return p.Status.InvalidClaims == 1 })
	if err := env.Client.Get(ctx, client.ObjectKey{Name: first.Name}, &ipamv1alpha1.IPClaim{}); err != nil {
		t.Fatalf("the older claim of the interface is gone: %v", err)
	}
}

// createWithoutWebhook creates claim as an administrator while the
// webhook configuration is away, as before an install registers it or
// while someone removed it, and puts the configuration back, also when the
// test fails on the way. The API server takes a moment to notice either
// change: until it does, the webhook still answers (or fails for want of
// its server), and the create is tried again.
func createWithoutWebhook(t *testing.T, claim *ipamv1alpha1.IPClaim) {
	t.Helper()
	ctx := context.Background()
	configs := &admissionregistrationv1.ValidatingWebhookConfigurationList{}
	if err := env.Client.List(ctx, configs); err != nil {
		t.Fatal(err)
	}
	defer restoreWebhooks(t, configs.Items)
	for i := range configs.Items {
		if err := env.Client.Delete(ctx, &configs.Items[i]); err != nil {
			t.Fatal(err)
		}
	}
	harness.Eventually(t, policyTimeout, func() error {
		attempt := claim.DeepCopy()
		err := env.Client.Create(ctx, attempt)
		if err != nil && strings.Contains(err.Error(), ipamv1alpha1.ClaimWebhookName) {
			return err
		}
		if err != nil {
			t.Fatalf("create IPClaim %s without the webhook: %v", claim.Name, err)
		}
		attempt.DeepCopyInto(claim)
		return nil
	})
	t.Cleanup(func() { deleteClaim(claim) })
}

// restoreWebhooks registers configs again, as they were before
// createWithoutWebhook removed them, and waits until the API server calls
// the IPClaim webhook.
func restoreWebhooks(t *testing.T, configs []admissionregistrationv1.ValidatingWebhookConfiguration) {
	t.Helper()
	for i := range configs {
		cfg := &configs[i]
		cfg.ResourceVersion, cfg.UID = "", ""
		if err := env.Client.Create(context.Background(), cfg); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatalf("put back the webhook configuration %s: %v", cfg.Name, err)
		}
	}
	waitForWebhook(t)
}

// waitForWebhook waits until the API server calls the IPClaim webhook
// again (or, with the webhook server stopped, fails for want of it).
func waitForWebhook(t *testing.T) {
	t.Helper()
	probe := harness.AddressClaim("no-such-pool", "node-probe", "10.255.255.2", 24, harness.RuntimeOwner("c-webhook-probe"))
	harness.Eventually(t, policyTimeout, func() error {
		err := env.Client.Create(context.Background(), probe.DeepCopy())
		if err == nil {
			deleteClaim(probe)
			return fmt.Errorf("the API server does not call the webhook yet")
		}
		if !strings.Contains(err.Error(), ipamv1alpha1.ClaimWebhookName) {
			return fmt.Errorf("probe: %w", err)
		}
		return nil
	})
}

// TestOperatorKeepsNodeBoundRequestsAwayFromTheWebhook removes the match
// condition from the IPClaim webhook's registration, as an OLM install
// registers it (a CSV cannot carry one): the operator puts it back when it
// starts.
func TestOperatorKeepsNodeBoundRequestsAwayFromTheWebhook(t *testing.T) {
	cfg, i := claimWebhook(t)
	registered := cfg.Webhooks[i].MatchConditions
	if len(registered) != 1 || registered[0].Name != ipamv1alpha1.NotNodeBoundCondition || registered[0].Expression != ipamv1alpha1.NotNodeBoundExpression {
		t.Fatalf("config/webhook registers the IPClaim webhook with match conditions %+v; want only %s: %s",
			registered, ipamv1alpha1.NotNodeBoundCondition, ipamv1alpha1.NotNodeBoundExpression)
	}
	t.Cleanup(func() { setMatchConditions(t, registered) })
	setMatchConditions(t, nil)
	cluster.StopOperatorFor(t)
	if err := cluster.StartOperator(); err != nil {
		t.Fatal(err)
	}
	harness.Eventually(t, policyTimeout, func() error {
		cfg, i := claimWebhook(t)
		if len(cfg.Webhooks[i].MatchConditions) != 1 {
			return fmt.Errorf("match conditions %+v", cfg.Webhooks[i].MatchConditions)
		}
		return nil
	})
}

// claimWebhook returns the registered configuration that holds the IPClaim
// webhook, and the webhook's index in it.
func claimWebhook(t *testing.T) (*admissionregistrationv1.ValidatingWebhookConfiguration, int) {
	t.Helper()
	configs := &admissionregistrationv1.ValidatingWebhookConfigurationList{}
	if err := env.Client.List(context.Background(), configs); err != nil {
		t.Fatal(err)
	}
	for i := range configs.Items {
		for j, wh := range configs.Items[i].Webhooks {
			if wh.Name == ipamv1alpha1.ClaimWebhookName {
				return &configs.Items[i], j
			}
		}
	}
	t.Fatal("the IPClaim webhook is not registered")
	return nil, 0
}

// setMatchConditions registers the IPClaim webhook with conditions, again
// if the running operator changed the registration meanwhile.
func setMatchConditions(t *testing.T, conditions []admissionregistrationv1.MatchCondition) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cfg, i := claimWebhook(t)
		cfg.Webhooks[i].MatchConditions = conditions
		return env.Client.Update(context.Background(), cfg)
	})
	if err != nil {
		t.Fatalf("register the IPClaim webhook with match conditions %+v: %v", conditions, err)
	}
}
