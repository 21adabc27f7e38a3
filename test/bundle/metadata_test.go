package bundle

import (
	"bufio"
	"bytes"
	"maps"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// wantAnnotations are the registry+v1 annotations of the checklist.
var wantAnnotations = map[string]string{
	"operators.operatorframework.io.bundle.mediatype.v1":       "registry+v1",
	"operators.operatorframework.io.bundle.manifests.v1":       "manifests/",
	"operators.operatorframework.io.bundle.metadata.v1":        "metadata/",
	"operators.operatorframework.io.bundle.package.v1":         packageName,
	"operators.operatorframework.io.bundle.channels.v1":        "stable",
	"operators.operatorframework.io.bundle.channel.default.v1": "stable",
	"operators.operatorframework.io.test.mediatype.v1":         "scorecard+v1",
	"operators.operatorframework.io.test.config.v1":            "tests/scorecard/",
}

// annotations reads bundle/metadata/annotations.yaml.
func annotations(t *testing.T) map[string]string {
	t.Helper()
	var f struct {
		Annotations map[string]string `json:"annotations"`
	}
	if err := yaml.UnmarshalStrict(readFile(t, repoPath("bundle", "metadata", "annotations.yaml")), &f); err != nil {
		t.Fatalf("parse bundle/metadata/annotations.yaml: %v", err)
	}
	return f.Annotations
}

// TestAnnotations checks the bundle's annotations, which OLM reads to
// know the bundle's format, package and channels.
func TestAnnotations(t *testing.T) {
	if got := annotations(t); !maps.Equal(got, wantAnnotations) {
		t.Errorf("annotations.yaml:\n%v\nwant\n%v", got, wantAnnotations)
	}
}

// dockerfileLine is a LABEL or COPY instruction of bundle.Dockerfile.
type dockerfileLine struct{ instruction, args string }

func readDockerfile(t *testing.T) (from string, lines []dockerfileLine) {
	t.Helper()
	s := bufio.NewScanner(bytes.NewReader(readFile(t, repoPath("bundle.Dockerfile"))))
	for s.Scan() {
		line := strings.TrimSpace(s.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		instruction, args, _ := strings.Cut(line, " ")
		if strings.EqualFold(instruction, "FROM") {
			from = args
			continue
		}
		lines = append(lines, dockerfileLine{strings.ToUpper(instruction), strings.TrimSpace(args)})
	}
	return from, lines
}

// TestDockerfileLabelsAreAnnotations checks that the bundle image carries
// the annotations as labels, one for one: an image is read by its labels,
// a directory by annotations.yaml, and nothing else compares them.
func TestDockerfileLabelsAreAnnotations(t *testing.T) {
	from, lines := readDockerfile(t)
	if from != "scratch" {
		t.Errorf("bundle.Dockerfile starts FROM %q, want scratch", from)
	}
	labels := map[string]string{}
	var copies []string
	for _, l := range lines {
		switch l.instruction {
		case "LABEL":
			k, v, ok := strings.Cut(l.args, "=")
			if _, dup := labels[k]; !ok || dup || strings.Contains(v, " ") {
				t.Errorf("LABEL %s: want one key=value per LABEL, each key once", l.args)
			}
			labels[k] = v
		case "COPY":
			copies = append(copies, l.args)
		default:
			t.Errorf("unexpected instruction %s %s", l.instruction, l.args)
		}
	}
	if want := annotations(t); !maps.Equal(labels, want) {
		t.Errorf("LABELs:\n%v\nwant annotations.yaml:\n%v", labels, want)
	}
	wantCopies := []string{
		"bundle/manifests /manifests/",
		"bundle/metadata /metadata/",
		"bundle/tests/scorecard /tests/scorecard/",
	}
	if !slices.Equal(copies, wantCopies) {
		t.Errorf("COPY %q, want %q", copies, wantCopies)
	}
}

// TestScorecardConfig checks that operator-sdk scorecard finds the basic and
// OLM suites where the annotations point.
func TestScorecardConfig(t *testing.T) {
	var cfg struct {
		Kind   string `json:"kind"`
		Stages []struct {
			Tests []struct {
				Entrypoint []string          `json:"entrypoint"`
				Image      string            `json:"image"`
				Labels     map[string]string `json:"labels"`
			} `json:"tests"`
		} `json:"stages"`
	}
	dir := annotations(t)["operators.operatorframework.io.test.config.v1"]
	if err := yaml.Unmarshal(readFile(t, repoPath("bundle", dir, "config.yaml")), &cfg); err != nil {
		t.Fatal(err)
	}
	suites := map[string]int{}
	for _, st := range cfg.Stages {
		for _, test := range st.Tests {
			suites[test.Labels["suite"]]++
			if !strings.HasPrefix(test.Image, "quay.io/operator-framework/scorecard-test:v") || len(test.Entrypoint) != 2 {
				t.Errorf("test %v runs %s, want the versioned scorecard-test image", test.Entrypoint, test.Image)
			}
		}
	}
	if cfg.Kind != "Configuration" || suites["basic"] == 0 || suites["olm"] == 0 {
		t.Errorf("scorecard config of kind %q with suites %v, want a Configuration with the basic and olm suites", cfg.Kind, suites)
	}
}
