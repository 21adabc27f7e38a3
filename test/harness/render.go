package harness

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ipkeeper/ipkeeper/hack/kubeyaml"
)

// KustomizeEnv names the variable through which make test hands the tests
// the pinned kustomize binary.
const KustomizeEnv = "KUSTOMIZE"

var rendered struct {
	once sync.Once
	objs []*unstructured.Unstructured
	err  error
}

// Rendered returns the objects of config/default as the pinned kustomize
// renders them for `make deploy`, rendered once per test binary.
func Rendered() ([]*unstructured.Unstructured, error) {
	rendered.once.Do(func() {
		var out []byte
		if out, rendered.err = renderDefault(); rendered.err == nil {
			rendered.objs, rendered.err = kubeyaml.Decode(out)
		}
	})
	return rendered.objs, rendered.err
}

func renderDefault() ([]byte, error) {
	kustomize, err := kustomizeBinary()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(kustomize, "build", filepath.Join(RepoRoot(), "config", "default"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("render config/default with %s: %w: %s", kustomize, err, stderr.String())
	}
	return out, nil
}

// kustomizeBinary returns KUSTOMIZE, or the one make installed into bin/.
func kustomizeBinary() (string, error) {
	if k := os.Getenv(KustomizeEnv); k != "" {
		return k, nil
	}
	found, _ := filepath.Glob(filepath.Join(RepoRoot(), "bin", "kustomize-*"))
	if len(found) == 0 {
		return "", fmt.Errorf("no kustomize: run make kustomize (make test does), or set %s", KustomizeEnv)
	}
	return found[len(found)-1], nil
}

// ApplyRendered applies, as make deploy does (server-side), the objects of
// config/default whose kind is one of kinds, and returns what it applied.
func (e *Env) ApplyRendered(kinds ...string) ([]*unstructured.Unstructured, error) {
	objs, err := Rendered()
	if err != nil {
		return nil, err
	}
	var applied []*unstructured.Unstructured
	for _, obj := range objs {
		if !slices.Contains(kinds, obj.GetKind()) {
			continue
		}
		obj = obj.DeepCopy()
		err := e.Client.Apply(context.Background(), client.ApplyConfigurationFromUnstructured(obj), client.FieldOwner("ipkeeper-tests"), client.ForceOwnership)
		if err != nil {
			return applied, fmt.Errorf("apply %s %s: %w", obj.GetKind(), obj.GetName(), err)
		}
		applied = append(applied, obj)
	}
	return applied, nil
}

// InstallRendered is ApplyRendered for a test: it deletes what it applied
// when the test ends, but for namespaces (deleting one takes long in
// envtest, and other tests share it).
func (e *Env) InstallRendered(t testing.TB, kinds ...string) {
	t.Helper()
	applied, err := e.ApplyRendered(kinds...)
	for _, obj := range applied {
		if obj.GetKind() == "Namespace" {
			continue
		}
		t.Cleanup(func() {
			if err := e.Client.Delete(context.Background(), obj); err != nil && !apierrors.IsNotFound(err) {
				t.Errorf("delete %s %s: %v", obj.GetKind(), obj.GetName(), err)
			}
		})
	}
	if err != nil {
		t.Fatal(err)
	}
}
