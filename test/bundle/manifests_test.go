package bundle

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// allowedKinds are the kinds OLM installs from a registry+v1 bundle's
// manifests besides the CSV and CRDs. The manager Deployment belongs in the
// CSV's install strategy and the webhooks in its webhookdefinitions; a
// Deployment, DaemonSet, webhook configuration or cert-manager object here
// would be refused or fight with what OLM makes.
var allowedKinds = map[string]bool{
	"ClusterServiceVersion":    true,
	"CustomResourceDefinition": true,
	"Secret":                   true,
	"ClusterRole":              true,
	"ClusterRoleBinding":       true,
	"ConfigMap":                true,
	"ServiceAccount":           true,
	"Service":                  true,
	"Role":                     true,
	"RoleBinding":              true,
	"PrometheusRule":           true,
	"ServiceMonitor":           true,
	"PodDisruptionBudget":      true,
	"PriorityClass":            true,
	"NetworkPolicy":            true,
}

// TestManifestsLayout checks that manifests/ is flat, holds one object per
// file, exactly one CSV under the name OLM tooling expects, and only kinds
// OLM installs from a bundle.
func TestManifestsLayout(t *testing.T) {
	dir := repoPath("bundle", "manifests")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var csvs []string
	for _, e := range entries {
		if e.IsDir() {
			t.Errorf("manifests/%s is a directory: OLM wants manifests/ flat", e.Name())
			continue
		}
		objs := readObjects(t, filepath.Join(dir, e.Name()))
		if len(objs) != 1 {
			t.Errorf("manifests/%s holds %d objects, want 1", e.Name(), len(objs))
			continue
		}
		kind := objs[0].GetKind()
		if !allowedKinds[kind] {
			t.Errorf("manifests/%s is a %s, which a bundle may not carry", e.Name(), kind)
		}
		if kind == "ClusterServiceVersion" {
			csvs = append(csvs, e.Name())
		}
	}
	if want := packageName + ".clusterserviceversion.yaml"; len(csvs) != 1 || csvs[0] != want {
		t.Errorf("CSVs in manifests/: %v, want exactly [%s]", csvs, want)
	}
}

// TestNoServiceAccountOfTheDeployment guards the one ServiceAccount the
// bundle must not carry: OLM creates the deployment's account itself and
// refuses a bundle that ships one of the same name.
func TestNoServiceAccountOfTheDeployment(t *testing.T) {
	b := loadBundle(t)
	sa := deploymentOf(t, b.CSV).Spec.Template.Spec.ServiceAccountName
	if sa == "" {
		t.Fatal("the CSV deployment names no service account")
	}
	for _, o := range b.Objects {
		if o.GetKind() == "ServiceAccount" && o.GetName() == sa {
			t.Errorf("the bundle ships the ServiceAccount %s, which OLM creates for the CSV deployment", sa)
		}
	}
}

// TestCRDsAreConfigCRDs checks that the bundle's CRDs are byte for byte the
// generated ones, and that it carries no other.
func TestCRDsAreConfigCRDs(t *testing.T) {
	bases, err := filepath.Glob(repoPath("config", "crd", "bases", "*.yaml"))
	if err != nil || len(bases) == 0 {
		t.Fatalf("no CRDs in config/crd/bases (run make manifests): %v", err)
	}
	want := map[string]bool{}
	for _, p := range bases {
		name := filepath.Base(p)
		for _, o := range readObjects(t, p) {
			want[o.GetName()] = true
		}
		if !bytes.Equal(readFile(t, p), readFile(t, repoPath("bundle", "manifests", name))) {
			t.Errorf("bundle/manifests/%s differs from config/crd/bases/%s: run make bundle", name, name)
		}
	}
	for _, crd := range loadBundle(t).V1CRDs {
		if !want[crd.Name] {
			t.Errorf("the bundle carries the CRD %s, which config/crd/bases does not", crd.Name)
		}
	}
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
