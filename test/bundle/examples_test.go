package bundle

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ipkeeper/ipkeeper/test/harness"
)

// examples parses the CSV's alm-examples, which must be a JSON array.
func examples(t *testing.T, csv *operatorsv1alpha1.ClusterServiceVersion) []*unstructured.Unstructured {
	t.Helper()
	var list []map[string]any
	if err := json.Unmarshal([]byte(csv.Annotations["alm-examples"]), &list); err != nil {
		t.Fatalf("alm-examples is not a JSON array of objects: %v", err)
	}
	out := make([]*unstructured.Unstructured, 0, len(list))
	for _, o := range list {
		out = append(out, &unstructured.Unstructured{Object: o})
	}
	return out
}

// ownedGVK is the group, version and kind of an owned CRD description.
func ownedGVK(d operatorsv1alpha1.CRDDescription) schema.GroupVersionKind {
	_, g, _ := strings.Cut(d.Name, ".")
	return schema.GroupVersionKind{Group: g, Version: d.Version, Kind: d.Kind}
}

// TestExamplesCoverOwnedCRDs checks that alm-examples holds one example of
// each owned CRD and nothing else, and that every top-level spec field an
// example uses has a spec descriptor, so the console's form shows it with a
// name and a description.
func TestExamplesCoverOwnedCRDs(t *testing.T) {
	csv := loadCSV(t)
	owned := map[schema.GroupVersionKind]operatorsv1alpha1.CRDDescription{}
	for _, d := range csv.Spec.CustomResourceDefinitions.Owned {
		owned[ownedGVK(d)] = d
	}
	seen := map[schema.GroupVersionKind]int{}
	for _, ex := range examples(t, csv) {
		gvk := ex.GroupVersionKind()
		seen[gvk]++
		d, ok := owned[gvk]
		if !ok {
			t.Errorf("example %s of %v, which the CSV does not own", ex.GetName(), gvk)
			continue
		}
		spec, _, _ := unstructured.NestedMap(ex.Object, "spec")
		if len(spec) == 0 {
			t.Errorf("example %s has no spec", ex.GetName())
		}
		for field := range spec {
			if !hasSpecDescriptor(d, field) {
				t.Errorf("example %s uses spec.%s, which has no spec descriptor", ex.GetName(), field)
			}
		}
	}
	for gvk := range owned {
		if seen[gvk] != 1 {
			t.Errorf("alm-examples holds %d examples of %v, want 1", seen[gvk], gvk)
		}
	}
}

func hasSpecDescriptor(d operatorsv1alpha1.CRDDescription, path string) bool {
	for _, s := range d.SpecDescriptors {
		if s.Path == path {
			return true
		}
	}
	return false
}

// TestOwnedCRDsDescribeTheirSchema checks that each owned CRD is described
// for the console (name, version, description, resources, conditions) and
// that every descriptor points at a field that the bundle's CRD has.
func TestOwnedCRDsDescribeTheirSchema(t *testing.T) {
	b := loadBundle(t)
	crds := map[string]*apiextensionsv1.CustomResourceDefinition{}
	for _, c := range b.V1CRDs {
		crds[c.Name] = c
	}
	if len(b.CSV.Spec.CustomResourceDefinitions.Owned) != len(crds) {
		t.Errorf("the CSV owns %d CRDs, the bundle carries %d", len(b.CSV.Spec.CustomResourceDefinitions.Owned), len(crds))
	}
	for _, d := range b.CSV.Spec.CustomResourceDefinitions.Owned {
		crd, ok := crds[d.Name]
		if !ok {
			t.Errorf("the CSV owns %s, which the bundle does not carry", d.Name)
			continue
		}
		if d.DisplayName == "" || d.Description == "" || len(d.Resources) == 0 || len(d.SpecDescriptors) == 0 {
			t.Errorf("%s: displayName, description, resources and specDescriptors must be set", d.Name)
		}
		root := storageSchema(t, crd)
		for _, s := range d.SpecDescriptors {
			checkDescriptor(t, d.Name, root, "spec", s.Path, s.Description)
		}
		hasConditions := false
		for _, s := range d.StatusDescriptors {
			checkDescriptor(t, d.Name, root, "status", s.Path, s.Description)
			hasConditions = hasConditions || s.Path == "conditions"
		}
		if !hasConditions {
			t.Errorf("%s: no status descriptor for conditions", d.Name)
		}
	}
}

func storageSchema(t *testing.T, crd *apiextensionsv1.CustomResourceDefinition) *apiextensionsv1.JSONSchemaProps {
	t.Helper()
	for _, v := range crd.Spec.Versions {
		if v.Storage && v.Schema != nil && v.Schema.OpenAPIV3Schema != nil {
			return v.Schema.OpenAPIV3Schema
		}
	}
	t.Fatalf("%s has no storage version with a schema", crd.Name)
	return nil
}

// checkDescriptor wants a described path that exists under section.
func checkDescriptor(t *testing.T, crd string, root *apiextensionsv1.JSONSchemaProps, section, path, description string) {
	t.Helper()
	if description == "" {
		t.Errorf("%s: the %s descriptor %s has no description", crd, section, path)
	}
	s := root.Properties[section]
	for _, name := range strings.Split(path, ".") {
		if s.Items != nil && s.Items.Schema != nil {
			s = *s.Items.Schema
		}
		next, ok := s.Properties[name]
		if !ok {
			t.Errorf("%s: the %s descriptor %s names no field of the CRD", crd, section, path)
			return
		}
		s = next
	}
}

// TestExamplesPassTheCRDs creates every example, as a dry run with strict
// field validation, on a real API server with the generated CRDs: each
// must pass the schema and the CEL rules, and carry no field the schema
// would prune. It is the package's only test that needs a control plane, so
// it starts one itself rather than making every test wait for a suite-wide
// one.
func TestExamplesPassTheCRDs(t *testing.T) {
	csv := loadCSV(t)
	env, err := harness.Start(harness.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = env.Stop() }()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, ex := range examples(t, csv) {
		err := env.Client.Create(ctx, ex, client.DryRunAll, client.FieldValidation("Strict"))
		if err != nil {
			t.Errorf("example %s %s: %v", ex.GetKind(), ex.GetName(), err)
		}
	}
}
