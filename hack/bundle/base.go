package main

import (
	"embed"
	"encoding/json"
	"fmt"

	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
	"sigs.k8s.io/yaml"

	"github.com/ipkeeper/ipkeeper/hack/kubeyaml"
)

// files holds what a person writes for the bundle: the CSV's text and
// descriptors, the examples and the icon.
//
//go:embed base
var files embed.FS

// base is the hand-written part of the bundle.
type base struct {
	csv *operatorsv1alpha1.ClusterServiceVersion
	// examples is the alm-examples annotation: a JSON array of objects.
	examples string
	icon     []byte
}

func loadBase() (*base, error) {
	data, err := files.ReadFile("base/ipkeeper.clusterserviceversion.yaml")
	if err != nil {
		return nil, err
	}
	b := &base{csv: &operatorsv1alpha1.ClusterServiceVersion{}}
	if err := yaml.UnmarshalStrict(data, b.csv); err != nil {
		return nil, fmt.Errorf("parse the base CSV: %w", err)
	}
	if b.examples, err = loadExamples(); err != nil {
		return nil, err
	}
	b.icon, err = files.ReadFile("base/icon.svg")
	return b, err
}

// loadExamples turns base/examples.yaml, written as YAML for people, into
// the indented JSON array that alm-examples must be.
func loadExamples() (string, error) {
	data, err := files.ReadFile("base/examples.yaml")
	if err != nil {
		return "", err
	}
	objs, err := kubeyaml.Decode(data)
	if err != nil {
		return "", fmt.Errorf("parse the examples: %w", err)
	}
	list := make([]map[string]any, 0, len(objs))
	for _, o := range objs {
		list = append(list, o.Object)
	}
	out, err := json.MarshalIndent(list, "", "  ")
	return string(out), err
}
