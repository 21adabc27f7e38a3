package bundle

import (
	"encoding/base64"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// certDir is where the manager reads its webhook serving certificate, and
// where OLM mounts the one it issues.
const certDir = "/tmp/k8s-webhook-server/serving-certs"

// TestWebhookDefinitionsMatchConfig checks that the CSV declares exactly the
// webhooks of config/webhook/manifests.yaml, as OLM needs them: served by
// the CSV's deployment on 9443 behind port 443, with the path, rules and
// policies of the markers, and rules naming only ipkeeper's group.
func TestWebhookDefinitionsMatchConfig(t *testing.T) {
	var cfg admissionregistrationv1.ValidatingWebhookConfiguration
	readConfig(t, "webhook/manifests.yaml", "ValidatingWebhookConfiguration", &cfg)
	csv := loadCSV(t)
	dep := deploymentOf(t, csv)
	defs := map[string]operatorsv1alpha1.WebhookDescription{}
	for _, d := range csv.Spec.WebhookDefinitions {
		defs[d.GenerateName] = d
	}
	if len(defs) != len(cfg.Webhooks) || len(csv.Spec.WebhookDefinitions) != len(cfg.Webhooks) {
		t.Errorf("the CSV defines %d webhooks, config/webhook %d", len(csv.Spec.WebhookDefinitions), len(cfg.Webhooks))
	}
	for _, w := range cfg.Webhooks {
		d, ok := defs[w.Name]
		if !ok {
			t.Errorf("the CSV lacks the webhook %s", w.Name)
			continue
		}
		for _, problem := range webhookProblems(w, d, dep) {
			t.Errorf("webhook %s: %s", w.Name, problem)
		}
	}
}

// webhookProblems lists how d, the CSV's definition of w, is not what OLM
// needs to serve w.
func webhookProblems(w admissionregistrationv1.ValidatingWebhook, d operatorsv1alpha1.WebhookDescription, dep operatorsv1alpha1.StrategyDeploymentSpec) []string {
	var p []string
	check := func(what string, got, want any) {
		if !equality.Semantic.DeepEqual(got, want) {
			p = append(p, fmt.Sprintf("%s is %v, want %v", what, deref(got), deref(want)))
		}
	}
	check("type", d.Type, operatorsv1alpha1.ValidatingAdmissionWebhook)
	check("deploymentName", d.DeploymentName, dep.Name)
	check("containerPort", d.ContainerPort, int32(443))
	check("targetPort", d.TargetPort, ptrTo(intstr.FromInt32(9443)))
	check("webhookPath", d.WebhookPath, w.ClientConfig.Service.Path)
	check("admissionReviewVersions", d.AdmissionReviewVersions, []string{"v1"})
	check("sideEffects", d.SideEffects, ptrTo(admissionregistrationv1.SideEffectClassNone))
	check("failurePolicy", d.FailurePolicy, ptrTo(admissionregistrationv1.Fail))
	check("timeoutSeconds", d.TimeoutSeconds, w.TimeoutSeconds)
	check("rules", d.Rules, w.Rules)
	if !servesPort(dep, 9443) {
		p = append(p, "the deployment has no container port 9443 to serve it")
	}
	for _, r := range d.Rules {
		if len(r.APIGroups) != 1 || r.APIGroups[0] != group {
			p = append(p, fmt.Sprintf("a rule names the API groups %v, want only %s", r.APIGroups, group))
		}
	}
	return p
}

func servesPort(dep operatorsv1alpha1.StrategyDeploymentSpec, port int32) bool {
	for _, c := range dep.Spec.Template.Spec.Containers {
		for _, p := range c.Ports {
			if p.ContainerPort == port {
				return true
			}
		}
	}
	return false
}

func ptrTo[T any](v T) *T { return &v }

// deref prints what a pointer points to, so that failures show values.
func deref(v any) any {
	r := reflect.ValueOf(v)
	if r.Kind() == reflect.Pointer && !r.IsNil() {
		return r.Elem().Interface()
	}
	return v
}

// TestPermissionsMatchRBAC checks that the operator's account gets, through
// the CSV, what config/rbac grants it: the generated ClusterRole and the
// metrics authentication rules cluster-wide, the generated Role and the
// leader election rules in its namespace; that the node agent's account
// (which OLM creates from the CSV) gets the plugin's ClusterRole and the
// one its pods need on OpenShift; and nothing else.
func TestPermissionsMatchRBAC(t *testing.T) {
	var manager, metricsAuth, node, nodeSCC rbacv1.ClusterRole
	var managerOwn, leaderElection rbacv1.Role
	var nodeAccount corev1.ServiceAccount
	readConfig(t, "rbac/role.yaml", "ClusterRole", &manager)
	readConfig(t, "rbac/role.yaml", "Role", &managerOwn)
	readConfig(t, "rbac/metrics_auth_role.yaml", "ClusterRole", &metricsAuth)
	readConfig(t, "rbac/leader_election_role.yaml", "Role", &leaderElection)
	readConfig(t, "rbac/node_role.yaml", "ClusterRole", &node)
	readConfig(t, "rbac/node_scc_role.yaml", "ClusterRole", &nodeSCC)
	readConfig(t, "rbac/node_service_account.yaml", "ServiceAccount", &nodeAccount)
	csv := loadCSV(t)
	sa := deploymentOf(t, csv).Spec.Template.Spec.ServiceAccountName
	strategy := csv.Spec.InstallStrategy.StrategySpec

	want := []operatorsv1alpha1.StrategyDeploymentPermissions{
		{ServiceAccountName: sa, Rules: slices.Concat(manager.Rules, metricsAuth.Rules)},
		{ServiceAccountName: namePrefix(t) + nodeAccount.Name, Rules: slices.Concat(node.Rules, nodeSCC.Rules)},
	}
	if !equality.Semantic.DeepEqual(strategy.ClusterPermissions, want) {
		t.Errorf("clusterPermissions:\n%+v\nwant config/rbac/role.yaml and metrics_auth_role.yaml, and node_role.yaml and node_scc_role.yaml for the node account:\n%+v", strategy.ClusterPermissions, want)
	}
	want = []operatorsv1alpha1.StrategyDeploymentPermissions{{ServiceAccountName: sa, Rules: slices.Concat(managerOwn.Rules, leaderElection.Rules)}}
	if !equality.Semantic.DeepEqual(strategy.Permissions, want) {
		t.Errorf("permissions:\n%+v\nwant the Role of config/rbac/role.yaml and leader_election_role.yaml:\n%+v", strategy.Permissions, want)
	}
}

// TestDeploymentMatchesManager checks that the CSV runs config/manager's
// Deployment (replicas, args, probes, ports, security context, resources)
// with the bundle's image, and without the cert-manager volume that
// config/default adds: OLM mounts its own certificate at the same path.
func TestDeploymentMatchesManager(t *testing.T) {
	var manager appsv1.Deployment
	readConfig(t, "manager/manager.yaml", "Deployment", &manager)
	csv := loadCSV(t)
	dep := deploymentOf(t, csv)
	image := csv.Annotations["containerImage"]
	if image == "" || !strings.Contains(image, "/") || strings.HasSuffix(image, ":latest") {
		t.Errorf("containerImage %q is not a fully qualified, versioned image", image)
	}

	want := manager.Spec.DeepCopy()
	got := dep.Spec.DeepCopy()
	for i := range want.Template.Spec.Containers {
		want.Template.Spec.Containers[i].Image = image
		// The node agent runs the same image, named for OLM's mirroring.
		want.Template.Spec.Containers[i].Env = append(want.Template.Spec.Containers[i].Env, corev1.EnvVar{Name: "RELATED_IMAGE_CNI", Value: image})
	}
	if !strings.HasSuffix(got.Template.Spec.ServiceAccountName, "-"+want.Template.Spec.ServiceAccountName) {
		t.Errorf("serviceAccountName %s is not config/manager's %s with the kustomize prefix", got.Template.Spec.ServiceAccountName, want.Template.Spec.ServiceAccountName)
	}
	want.Template.Spec.ServiceAccountName = got.Template.Spec.ServiceAccountName
	if !equality.Semantic.DeepEqual(got, want) {
		t.Errorf("the CSV deployment differs from config/manager/manager.yaml:\n%+v\nwant\n%+v", got, want)
	}
	if v := certVolume(got.Template.Spec); v != "" {
		t.Errorf("the CSV deployment mounts %s at %s: OLM mounts the webhook certificate there", v, certDir)
	}
	if !reflect.DeepEqual(csv.Spec.RelatedImages, []operatorsv1alpha1.RelatedImage{{Name: packageName, Image: image}, {Name: "cni", Image: image}}) {
		t.Errorf("relatedImages %v, want the operator image %s, also as the node agent's (cni)", csv.Spec.RelatedImages, image)
	}
}

// certVolume names a volume that the pod mounts at certDir, or one that
// holds cert-manager's webhook-server-cert Secret.
func certVolume(pod corev1.PodSpec) string {
	for _, c := range pod.Containers {
		for _, m := range c.VolumeMounts {
			if m.MountPath == certDir {
				return m.Name
			}
		}
	}
	for _, v := range pod.Volumes {
		if v.Secret != nil && v.Secret.SecretName == "webhook-server-cert" {
			return v.Name
		}
	}
	return ""
}

// TestCSVMetadata checks what OperatorHub and the console show and what the
// checklist asks for that no validator enforces.
func TestCSVMetadata(t *testing.T) {
	csv := loadCSV(t)
	if want := packageName + ".v" + csv.Spec.Version.String(); csv.Name != want {
		t.Errorf("name %s, want %s", csv.Name, want)
	}
	var kustomization struct {
		Namespace string `json:"namespace"`
	}
	readKustomization(t, &kustomization)
	for key, want := range map[string]string{
		"capabilities": "Basic Install",
		"categories":   "Networking",
		"operatorframework.io/suggested-namespace": kustomization.Namespace,
	} {
		if got := csv.Annotations[key]; got != want {
			t.Errorf("annotation %s is %q, want %q", key, got, want)
		}
	}
	if _, err := time.Parse(time.RFC3339, csv.Annotations["createdAt"]); err != nil {
		t.Errorf("createdAt: %v", err)
	}
	if csv.Spec.Maturity != "alpha" || csv.Spec.MinKubeVersion == "" || len(csv.Spec.Keywords) == 0 ||
		len(csv.Spec.Maintainers) == 0 || len(csv.Spec.Links) == 0 || csv.Spec.Provider.Name == "" {
		t.Error("maturity alpha, minKubeVersion, keywords, maintainers, links and provider must all be set")
	}
	if len(csv.Spec.Description) < 200 || !strings.Contains(csv.Spec.Description, "## ") {
		t.Error("the description should be real markdown for users, with sections")
	}
	checkIcon(t, csv.Spec.Icon)
	checkInstallModes(t, csv.Spec.InstallModes)
}

// checkIcon wants one SVG icon that decodes.
func checkIcon(t *testing.T, icons []operatorsv1alpha1.Icon) {
	t.Helper()
	if len(icons) != 1 || icons[0].MediaType != "image/svg+xml" {
		t.Fatalf("icons %d, want one image/svg+xml", len(icons))
	}
	svg, err := base64.StdEncoding.DecodeString(icons[0].Data)
	if err != nil || !strings.Contains(string(svg), "<svg") || !strings.HasSuffix(strings.TrimSpace(string(svg)), "</svg>") {
		t.Errorf("the icon is not a base64 SVG document: %v", err)
	}
}

// checkInstallModes wants AllNamespaces only: pools and claims are
// cluster-scoped, and one operator serves the whole cluster.
func checkInstallModes(t *testing.T, modes []operatorsv1alpha1.InstallMode) {
	t.Helper()
	want := map[operatorsv1alpha1.InstallModeType]bool{
		operatorsv1alpha1.InstallModeTypeOwnNamespace:    false,
		operatorsv1alpha1.InstallModeTypeSingleNamespace: false,
		operatorsv1alpha1.InstallModeTypeMultiNamespace:  false,
		operatorsv1alpha1.InstallModeTypeAllNamespaces:   true,
	}
	got := map[operatorsv1alpha1.InstallModeType]bool{}
	for _, m := range modes {
		got[m.Type] = m.Supported
	}
	if len(modes) != len(want) || !reflect.DeepEqual(got, want) {
		t.Errorf("installModes %v, want AllNamespaces only, the others listed as unsupported", modes)
	}
}

// readKustomization reads config/default/kustomization.yaml.
func readKustomization(t *testing.T, into any) {
	t.Helper()
	objs := readObjects(t, repoPath("config", "default", "kustomization.yaml"))
	if len(objs) != 1 {
		t.Fatalf("config/default/kustomization.yaml holds %d documents, want 1", len(objs))
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(objs[0].Object, into); err != nil {
		t.Fatal(err)
	}
}

// namePrefix returns the namePrefix of the kustomize install, which the
// bundle reuses.
func namePrefix(t *testing.T) string {
	t.Helper()
	var kustomization struct {
		NamePrefix string `json:"namePrefix"`
	}
	readKustomization(t, &kustomization)
	return kustomization.NamePrefix
}
