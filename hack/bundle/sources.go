package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/ipkeeper/ipkeeper/hack/kubeyaml"
)

// sources are the parts of config/ that the bundle is built from. Names are
// as written there, before config/default adds its namePrefix.
type sources struct {
	// namespace and namePrefix are those of config/default: the namespace
	// is suggested to OLM users, the prefix names what the bundle installs
	// as the kustomize install names it.
	namespace  string
	namePrefix string

	deployment          appsv1.Deployment
	managerRules        []rbacv1.PolicyRule
	managerOwnRules     []rbacv1.PolicyRule
	metricsAuthRules    []rbacv1.PolicyRule
	leaderElectionRules []rbacv1.PolicyRule
	// nodeAccount and nodeRules are the node agent's service account (the
	// CNI plugin's credential) and the rules of its ClusterRoles, the
	// plugin's and the one its pods need on OpenShift: OLM creates the
	// account from the CSV's clusterPermissions.
	nodeAccount    corev1.ServiceAccount
	nodeRules      []rbacv1.PolicyRule
	nodeSCCRules   []rbacv1.PolicyRule
	webhooks       admissionregistrationv1.ValidatingWebhookConfiguration
	webhookService corev1.Service

	// metricsService, metricsReader and the manager's disruption budget go
	// into the bundle as they are: OLM creates none of them on its own.
	metricsService *unstructured.Unstructured
	metricsReader  *unstructured.Unstructured
	disruption     *unstructured.Unstructured

	crds []crdFile
}

// crdFile is a generated CRD, kept byte for byte so that the bundle's copy
// is identical to config/crd/bases.
type crdFile struct {
	name string
	raw  []byte
	crd  apiextensionsv1.CustomResourceDefinition
}

func loadSources(dir string) (*sources, error) {
	s := &sources{}
	if err := readKustomization(filepath.Join(dir, "default", "kustomization.yaml"), s); err != nil {
		return nil, err
	}
	typed := []struct {
		path string
		kind string
		into any
	}{
		{"manager/manager.yaml", "Deployment", &s.deployment},
		{"webhook/manifests.yaml", "ValidatingWebhookConfiguration", &s.webhooks},
		{"webhook/service.yaml", "Service", &s.webhookService},
		{"rbac/node_service_account.yaml", "ServiceAccount", &s.nodeAccount},
	}
	for _, t := range typed {
		if err := readTyped(filepath.Join(dir, t.path), t.kind, t.into); err != nil {
			return nil, err
		}
	}
	if err := readRules(dir, s); err != nil {
		return nil, err
	}
	var err error
	if s.metricsService, err = readObject(filepath.Join(dir, "default", "metrics_service.yaml"), "Service"); err != nil {
		return nil, err
	}
	if s.metricsReader, err = readObject(filepath.Join(dir, "rbac", "metrics_reader_role.yaml"), "ClusterRole"); err != nil {
		return nil, err
	}
	if s.disruption, err = readObject(filepath.Join(dir, "manager", "manager.yaml"), "PodDisruptionBudget"); err != nil {
		return nil, err
	}
	s.crds, err = readCRDs(filepath.Join(dir, "crd", "bases"))
	return s, err
}

// readKustomization reads the namespace and namePrefix of the kustomize
// install, which the bundle reuses so that both installs name things alike.
func readKustomization(path string, s *sources) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var k struct {
		Namespace  string `json:"namespace"`
		NamePrefix string `json:"namePrefix"`
	}
	if err := yaml.Unmarshal(data, &k); err != nil {
		return fmt.Errorf("parse %s: %w", path, err)
	}
	if k.Namespace == "" {
		return fmt.Errorf("%s sets no namespace", path)
	}
	s.namespace, s.namePrefix = k.Namespace, k.NamePrefix
	return nil
}

// readRules reads the rules of the operator's roles: the generated
// ClusterRole and the metrics authentication ClusterRole become the CSV's
// clusterPermissions, the generated Role and the leader election Role its
// permissions; the node agent's ClusterRoles become the node account's
// clusterPermissions.
func readRules(dir string, s *sources) error {
	roles := []struct {
		path string
		kind string
		into *[]rbacv1.PolicyRule
	}{
		{"rbac/role.yaml", "ClusterRole", &s.managerRules},
		{"rbac/role.yaml", "Role", &s.managerOwnRules},
		{"rbac/metrics_auth_role.yaml", "ClusterRole", &s.metricsAuthRules},
		{"rbac/leader_election_role.yaml", "Role", &s.leaderElectionRules},
		{"rbac/node_role.yaml", "ClusterRole", &s.nodeRules},
		{"rbac/node_scc_role.yaml", "ClusterRole", &s.nodeSCCRules},
	}
	for _, r := range roles {
		var role struct {
			Rules []rbacv1.PolicyRule `json:"rules"`
		}
		if err := readTyped(filepath.Join(dir, r.path), r.kind, &role); err != nil {
			return err
		}
		*r.into = role.Rules
	}
	return nil
}

// readCRDs reads every CRD of dir in file name order, so that the owned
// CRDs of the CSV come in a stable order.
func readCRDs(dir string) ([]crdFile, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("no CRDs in %s: run make manifests", dir)
	}
	sort.Strings(paths)
	crds := make([]crdFile, 0, len(paths))
	for _, p := range paths {
		f := crdFile{name: filepath.Base(p)}
		if f.raw, err = os.ReadFile(p); err != nil {
			return nil, err
		}
		if err := readTyped(p, "CustomResourceDefinition", &f.crd); err != nil {
			return nil, err
		}
		crds = append(crds, f)
	}
	return crds, nil
}

// readTyped decodes the one object of kind in the file at path into into.
func readTyped(path, kind string, into any) error {
	obj, err := readObject(path, kind)
	if err != nil {
		return err
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, into); err != nil {
		return fmt.Errorf("decode the %s in %s: %w", kind, path, err)
	}
	return nil
}

// readObject returns the one object of kind in the multi-document YAML file
// at path. More than one is an error: the bundle would have to guess.
func readObject(path, kind string) (*unstructured.Unstructured, error) {
	objs, err := readObjects(path)
	if err != nil {
		return nil, err
	}
	var found *unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() != kind {
			continue
		}
		if found != nil {
			return nil, fmt.Errorf("%s holds more than one %s", path, kind)
		}
		found = o
	}
	if found == nil {
		return nil, fmt.Errorf("%s holds no %s", path, kind)
	}
	return found, nil
}

func readObjects(path string) ([]*unstructured.Unstructured, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	objs, err := kubeyaml.Decode(data)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	return objs, nil
}
