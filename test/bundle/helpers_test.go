package bundle

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/operator-framework/api/pkg/manifests"
	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/ipkeeper/ipkeeper/test/harness"

	"github.com/ipkeeper/ipkeeper/hack/kubeyaml"
)

const (
	// packageName is the OLM package: the CSV is packageName.v<version>.
	packageName = "ipkeeper"
	// group is the only API group the bundle's webhooks may name.
	group = "ipam.ipkeeper.dev"
)

// repoPath returns a path of the checkout from slash-separated parts.
func repoPath(parts ...string) string {
	return filepath.Join(append([]string{harness.RepoRoot()}, parts...)...)
}

// loadBundle loads bundle/ as OLM and operator-sdk do.
func loadBundle(t *testing.T) *manifests.Bundle {
	t.Helper()
	b, err := manifests.GetBundleFromDir(repoPath("bundle"))
	if err != nil {
		t.Fatalf("load bundle/ (run make bundle): %v", err)
	}
	return b
}

// loadCSV returns the bundle's ClusterServiceVersion.
func loadCSV(t *testing.T) *operatorsv1alpha1.ClusterServiceVersion {
	t.Helper()
	return loadBundle(t).CSV
}

// deploymentOf returns the CSV's only Deployment.
func deploymentOf(t *testing.T, csv *operatorsv1alpha1.ClusterServiceVersion) operatorsv1alpha1.StrategyDeploymentSpec {
	t.Helper()
	deps := csv.Spec.InstallStrategy.StrategySpec.DeploymentSpecs
	if len(deps) != 1 {
		t.Fatalf("the CSV installs %d deployments, want 1", len(deps))
	}
	return deps[0]
}

// readConfig decodes the one object of kind in the YAML file at the
// slash-separated path under config/ into into.
func readConfig(t *testing.T, rel, kind string, into any) {
	t.Helper()
	var found *unstructured.Unstructured
	for _, o := range readObjects(t, repoPath("config", rel)) {
		if o.GetKind() != kind {
			continue
		}
		if found != nil {
			t.Fatalf("config/%s holds more than one %s", rel, kind)
		}
		found = o
	}
	if found == nil {
		t.Fatalf("config/%s holds no %s", rel, kind)
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(found.Object, into); err != nil {
		t.Fatalf("decode the %s of config/%s: %v", kind, rel, err)
	}
}

// readObjects parses every object of a multi-document YAML file.
func readObjects(t *testing.T, file string) []*unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := kubeyaml.Decode(data)
	if err != nil {
		t.Fatalf("parse %s: %v", file, err)
	}
	return objs
}
