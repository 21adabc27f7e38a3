package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
)

// ownedCRDs completes the base's owned CRD descriptions, matched by kind,
// with what the CRDs say: name, storage version, and the descriptions of
// the kind and of each descriptor's field, which the API's doc comments
// already write for users. Every CRD must be described and every
// description must name a CRD, so that adding or renaming a kind or a field
// fails here instead of shipping a stale CSV.
func ownedCRDs(crds []crdFile, given []operatorsv1alpha1.CRDDescription) ([]operatorsv1alpha1.CRDDescription, error) {
	byKind := make(map[string]operatorsv1alpha1.CRDDescription, len(given))
	for _, d := range given {
		byKind[d.Kind] = d
	}
	owned := make([]operatorsv1alpha1.CRDDescription, 0, len(crds))
	for _, f := range crds {
		d, ok := byKind[f.crd.Spec.Names.Kind]
		if !ok {
			return nil, fmt.Errorf("the base CSV does not describe the CRD %s: add it to customresourcedefinitions.owned", f.crd.Name)
		}
		delete(byKind, d.Kind)
		d, err := describeCRD(d, &f.crd)
		if err != nil {
			return nil, err
		}
		owned = append(owned, d)
	}
	if len(byKind) > 0 {
		return nil, fmt.Errorf("the base CSV describes %s, which no CRD in config/crd/bases defines", strings.Join(slices.Sorted(maps.Keys(byKind)), ", "))
	}
	return owned, nil
}

func describeCRD(d operatorsv1alpha1.CRDDescription, crd *apiextensionsv1.CustomResourceDefinition) (operatorsv1alpha1.CRDDescription, error) {
	v, err := storageVersion(crd)
	if err != nil {
		return d, err
	}
	root := v.Schema.OpenAPIV3Schema
	d.Name = crd.Name
	d.Version = v.Name
	d.Description = oneLine(root.Description)
	for i := range d.SpecDescriptors {
		s := &d.SpecDescriptors[i]
		if s.Description, err = fieldDescription(root, "spec", s.Path, s.Description); err != nil {
			return d, fmt.Errorf("%s: %w", crd.Name, err)
		}
	}
	for i := range d.StatusDescriptors {
		s := &d.StatusDescriptors[i]
		if s.Description, err = fieldDescription(root, "status", s.Path, s.Description); err != nil {
			return d, fmt.Errorf("%s: %w", crd.Name, err)
		}
	}
	return d, nil
}

func storageVersion(crd *apiextensionsv1.CustomResourceDefinition) (apiextensionsv1.CustomResourceDefinitionVersion, error) {
	for _, v := range crd.Spec.Versions {
		if v.Storage && v.Schema != nil && v.Schema.OpenAPIV3Schema != nil {
			return v, nil
		}
	}
	return apiextensionsv1.CustomResourceDefinitionVersion{}, fmt.Errorf("%s has no storage version with a schema", crd.Name)
}

// fieldDescription returns given, or else the schema's description of the
// field at the dotted path under section (spec or status). A path the
// schema lacks is an error even when given is set: the descriptor would
// point the console at nothing.
func fieldDescription(root *apiextensionsv1.JSONSchemaProps, section, path, given string) (string, error) {
	s, ok := root.Properties[section]
	if !ok {
		return "", fmt.Errorf("the schema has no %s", section)
	}
	for _, name := range strings.Split(path, ".") {
		if s.Type == "array" && s.Items != nil && s.Items.Schema != nil {
			s = *s.Items.Schema
		}
		next, ok := s.Properties[name]
		if !ok {
			return "", fmt.Errorf("the descriptor path %s.%s names no field of the schema", section, path)
		}
		s = next
	}
	if given != "" {
		return given, nil
	}
	return oneLine(s.Description), nil
}

// oneLine joins the lines of a doc comment: the console wraps text itself.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
