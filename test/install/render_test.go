package install

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/ipkeeper/ipkeeper/test/harness"
)

// TestRenderedInstallIsAccepted submits every object of config/default, as
// make deploy renders it, to the API server as a server-side dry run: the
// API server checks each against its schema (cert-manager's objects against
// cert-manager's own CRDs) without keeping any.
func TestRenderedInstallIsAccepted(t *testing.T) {
	ctx := context.Background()
	crds, err := harness.CertManagerCRDs()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := envtest.InstallCRDs(env.Config, envtest.CRDInstallOptions{Paths: []string{crds}, ErrorIfPathMissing: true, MaxTime: time.Minute}); err != nil {
		t.Fatalf("install cert-manager's CRDs from %s: %v", crds, err)
	}
	env.InstallRendered(t, "Namespace") // namespaced objects need theirs, also in a dry run
	objs := rendered(t)
	for _, obj := range objs {
		if obj.GetKind() == "Namespace" {
			continue
		}
		err := env.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj.DeepCopy()),
			client.FieldOwner("ipkeeper-install-test"), client.ForceOwnership, client.DryRunAll)
		if err != nil {
			t.Errorf("%s: %v", describe(obj), err)
		}
	}
	if len(objs) < 20 {
		t.Fatalf("config/default renders only %d objects", len(objs))
	}
}

// TestRenderedNamesAgree checks, in config/default as rendered, that every
// name one object gives another is that object's name after kustomize's
// namePrefix and namespace: a reference kustomize does not know of would
// keep its old name and point at nothing (as the Certificate's issuer once
// did, so that the webhook certificate was never issued).
func TestRenderedNamesAgree(t *testing.T) {
	objs := rendered(t)
	has := map[string]bool{}
	for _, o := range objs {
		has[key(o.GetKind(), o.GetNamespace(), o.GetName())] = true
	}
	for _, o := range objs {
		for _, ref := range references(o) {
			if !has[ref] {
				t.Errorf("%s names %s, which config/default does not render", describe(o), ref)
			}
		}
	}
}

// references lists what obj names of other objects, as kind/namespace/name.
func references(obj *unstructured.Unstructured) []string {
	ns := obj.GetNamespace()
	str := func(fields ...string) string { s, _ := nestedString(obj.Object, fields...); return s }
	switch obj.GetKind() {
	case "Certificate":
		return []string{key(str("spec", "issuerRef", "kind"), ns, str("spec", "issuerRef", "name"))}
	case "ValidatingAdmissionPolicyBinding":
		return []string{key("ValidatingAdmissionPolicy", "", str("spec", "policyName"))}
	case "RoleBinding", "ClusterRoleBinding":
		return bindingReferences(obj)
	case "Deployment":
		return []string{key("ServiceAccount", ns, str("spec", "template", "spec", "serviceAccountName"))}
	case "ValidatingWebhookConfiguration":
		return webhookReferences(obj)
	}
	return nil
}

// bindingReferences lists the role and the subjects of a binding.
func bindingReferences(obj *unstructured.Unstructured) []string {
	kind, _ := nestedString(obj.Object, "roleRef", "kind")
	name, _ := nestedString(obj.Object, "roleRef", "name")
	roleNS := ""
	if kind == "Role" {
		roleNS = obj.GetNamespace()
	}
	refs := []string{key(kind, roleNS, name)}
	subjects, _, _ := unstructured.NestedSlice(obj.Object, "subjects")
	for _, s := range subjects {
		m := s.(map[string]any)
		kind, _ := m["kind"].(string)
		namespace, _ := m["namespace"].(string)
		name, _ := m["name"].(string)
		refs = append(refs, key(kind, namespace, name))
	}
	return refs
}

// webhookReferences lists the Services a webhook configuration calls and
// the Certificate whose CA cert-manager injects into it.
func webhookReferences(obj *unstructured.Unstructured) []string {
	var refs []string
	webhooks, _, _ := unstructured.NestedSlice(obj.Object, "webhooks")
	for _, w := range webhooks {
		svc, _, _ := unstructured.NestedStringMap(w.(map[string]any), "clientConfig", "service")
		refs = append(refs, key("Service", svc["namespace"], svc["name"]))
	}
	if from := obj.GetAnnotations()["cert-manager.io/inject-ca-from"]; from != "" {
		certNS, certName, _ := strings.Cut(from, "/")
		refs = append(refs, key("Certificate", certNS, certName))
	}
	return refs
}

// TestWebhookCertificateServesTheWebhook checks that cert-manager's
// certificate names the webhook Service's DNS names and lands in the Secret
// the manager mounts.
func TestWebhookCertificateServesTheWebhook(t *testing.T) {
	objs := rendered(t)
	cert, deploy, svc := only(t, objs, "Certificate"), manager(t, objs), webhookService(t, objs)
	dnsNames, _, _ := unstructured.NestedStringSlice(cert.Object, "spec", "dnsNames")
	want := svc.GetName() + "." + svc.GetNamespace() + ".svc"
	if len(dnsNames) == 0 || dnsNames[0] != want {
		t.Errorf("the Certificate's dnsNames %v; want %s first", dnsNames, want)
	}
	secret, _ := nestedString(cert.Object, "spec", "secretName")
	volumes, _, _ := unstructured.NestedSlice(deploy.Object, "spec", "template", "spec", "volumes")
	for _, v := range volumes {
		if name, _ := nestedString(v.(map[string]any), "secret", "secretName"); name == secret {
			return
		}
	}
	t.Errorf("the manager mounts no volume of the Certificate's Secret %s", secret)
}

func rendered(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	objs, err := harness.Rendered()
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func only(t *testing.T, objs []*unstructured.Unstructured, kind string) *unstructured.Unstructured {
	t.Helper()
	var found []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == kind {
			found = append(found, o)
		}
	}
	if len(found) != 1 {
		t.Fatalf("config/default renders %d objects of kind %s, want 1", len(found), kind)
	}
	return found[0]
}

func manager(t *testing.T, objs []*unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	return only(t, objs, "Deployment")
}

func webhookService(t *testing.T, objs []*unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	vwc := only(t, objs, "ValidatingWebhookConfiguration")
	webhooks, _, _ := unstructured.NestedSlice(vwc.Object, "webhooks")
	svc, _, _ := unstructured.NestedStringMap(webhooks[0].(map[string]any), "clientConfig", "service")
	for _, o := range objs {
		if o.GetKind() == "Service" && o.GetName() == svc["name"] && o.GetNamespace() == svc["namespace"] {
			return o
		}
	}
	t.Fatalf("no Service %s/%s", svc["namespace"], svc["name"])
	return nil
}

func nestedString(obj map[string]any, fields ...string) (string, bool) {
	s, ok, _ := unstructured.NestedString(obj, fields...)
	return s, ok
}

func key(kind, namespace, name string) string {
	return kind + "/" + namespace + "/" + name
}

func describe(obj *unstructured.Unstructured) string {
	return key(obj.GetKind(), obj.GetNamespace(), obj.GetName())
}

// TestManagerSurvivesNodeMaintenance checks the rendered operator for what
// keeps it up while nodes are drained: two replicas spread across nodes,
// system-cluster-critical, tolerating control-plane nodes, leader election,
// and a disruption budget that keeps one replica.
func TestManagerSurvivesNodeMaintenance(t *testing.T) {
	objs := rendered(t)
	deploy := manager(t, objs)
	pod := func(fields ...string) []string { return append([]string{"spec", "template", "spec"}, fields...) }
	replicas, _, _ := unstructured.NestedInt64(deploy.Object, "spec", "replicas")
	priority, _ := nestedString(deploy.Object, pod("priorityClassName")...)
	spread, _, _ := unstructured.NestedSlice(deploy.Object, pod("topologySpreadConstraints")...)
	tolerations, _, _ := unstructured.NestedSlice(deploy.Object, pod("tolerations")...)
	containers, _, _ := unstructured.NestedSlice(deploy.Object, pod("containers")...)
	args, _, _ := unstructured.NestedStringSlice(containers[0].(map[string]any), "args")
	budget := only(t, objs, "PodDisruptionBudget")
	minAvailable, _, _ := unstructured.NestedInt64(budget.Object, "spec", "minAvailable")
	checks := []struct {
		what string
		ok   bool
	}{
		{"two replicas", replicas == 2},
		{"priority class system-cluster-critical", priority == "system-cluster-critical"},
		{"spread across nodes", len(spread) == 1 && spread[0].(map[string]any)["topologyKey"] == "kubernetes.io/hostname"},
		{"tolerates control-plane nodes", len(tolerations) > 0 && tolerations[0].(map[string]any)["key"] == "node-role.kubernetes.io/control-plane"},
		{"leader election", slices.Contains(args, "--leader-elect")},
		{"a disruption budget keeping one replica", minAvailable == 1},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("the rendered operator lacks %s", c.what)
		}
	}
}
