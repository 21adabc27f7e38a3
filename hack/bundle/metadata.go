package main

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
)

// scorecardImage runs the scorecard's built-in basic and OLM tests.
const scorecardImage = "quay.io/operator-framework/scorecard-test:v1.42.2"

// bundleAnnotations are the registry+v1 annotations of the bundle, written
// both to metadata/annotations.yaml and, one for one, as LABELs of the
// bundle image.
var bundleAnnotations = map[string]string{
	"operators.operatorframework.io.bundle.mediatype.v1":       "registry+v1",
	"operators.operatorframework.io.bundle.manifests.v1":       "manifests/",
	"operators.operatorframework.io.bundle.metadata.v1":        "metadata/",
	"operators.operatorframework.io.bundle.package.v1":         packageName,
	"operators.operatorframework.io.bundle.channels.v1":        channel,
	"operators.operatorframework.io.bundle.channel.default.v1": channel,
	"operators.operatorframework.io.test.mediatype.v1":         "scorecard+v1",
	"operators.operatorframework.io.test.config.v1":            "tests/scorecard/",
}

// scorecardTests are the scorecard-test entrypoints, by suite.
var scorecardTests = []struct{ suite, name string }{
	{"basic", "basic-check-spec"},
	{"olm", "olm-bundle-validation"},
	{"olm", "olm-crds-have-validation"},
	{"olm", "olm-crds-have-resources"},
	{"olm", "olm-spec-descriptors"},
	{"olm", "olm-status-descriptors"},
}

// metadataFiles are the bundle's files besides its manifests, by path
// relative to the bundle directory.
func metadataFiles() (map[string][]byte, error) {
	annotations, err := marshalYAML(map[string]any{"annotations": bundleAnnotations})
	if err != nil {
		return nil, err
	}
	scorecard, err := marshalYAML(scorecardConfig())
	if err != nil {
		return nil, err
	}
	return map[string][]byte{
		"metadata/annotations.yaml":   annotations,
		"tests/scorecard/config.yaml": scorecard,
	}, nil
}

// scorecardConfig is the configuration `operator-sdk scorecard` reads from
// the bundle: the basic and OLM suites, run in parallel.
func scorecardConfig() map[string]any {
	noStorage := map[string]any{"spec": map[string]any{"mountPath": map[string]any{}}}
	tests := make([]any, 0, len(scorecardTests))
	for _, t := range scorecardTests {
		tests = append(tests, map[string]any{
			"entrypoint": []string{"scorecard-test", t.name},
			"image":      scorecardImage,
			"labels":     map[string]string{"suite": t.suite, "test": t.name + "-test"},
			"storage":    noStorage,
		})
	}
	return map[string]any{
		"apiVersion": "scorecard.operatorframework.io/v1alpha3",
		"kind":       "Configuration",
		"metadata":   map[string]any{"name": "config"},
		"stages":     []any{map[string]any{"parallel": true, "tests": tests}},
		"storage":    noStorage,
	}
}

// dockerfile builds the bundle image from the bundle in dir: its LABELs are
// the bundle annotations in the same order as annotations.yaml, which is
// what `opm` and OLM read from an image.
func dockerfile(dir string) []byte {
	var b strings.Builder
	b.WriteString(generatedHeader)
	b.WriteString("# The OLM bundle image (make bundle-build).\n")
	b.WriteString("FROM scratch\n\n")
	for _, k := range slices.Sorted(maps.Keys(bundleAnnotations)) {
		fmt.Fprintf(&b, "LABEL %s=%s\n", k, bundleAnnotations[k])
	}
	b.WriteString("\n")
	dir = filepath.ToSlash(dir)
	fmt.Fprintf(&b, "COPY %s/manifests /manifests/\n", dir)
	fmt.Fprintf(&b, "COPY %s/metadata /metadata/\n", dir)
	fmt.Fprintf(&b, "COPY %s/tests/scorecard /tests/scorecard/\n", dir)
	return []byte(b.String())
}
