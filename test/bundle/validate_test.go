// Package bundle tests the OLM bundle under bundle/: that operator-sdk's
// validators accept it, that it says what config/ says (CRDs, RBAC,
// webhooks, the manager Deployment), that its examples pass the real CRDs,
// and that the bundle image's labels are its annotations.
package bundle

import (
	"testing"

	"github.com/operator-framework/api/pkg/validation"
)

// maxCompressedSize is what OLM can stage for one bundle: the bundle goes
// through a ConfigMap, which the API server caps at about 1 MiB.
const maxCompressedSize = 1 << 20

// TestValidators runs OLM's bundle validators (CSV, CRDs, bundle) and the
// OperatorHub, capability, good-practice and deprecated-API ones, for
// Kubernetes 1.37. The CSV and CRDs are passed besides the bundle: given the
// bundle alone, the CSV and CRD validators would skip them.
func TestValidators(t *testing.T) {
	b := loadBundle(t)
	validators := validation.DefaultBundleValidators.WithValidators(
		validation.OperatorHubV2Validator,
		validation.StandardCapabilitiesValidator,
		validation.GoodPracticesValidator,
		validation.AlphaDeprecatedAPIsValidator,
	)
	results := validators.Validate(append(b.ObjectsToValidate(), map[string]string{"k8s-version": "1.37"})...)
	if len(results) == 0 {
		t.Fatal("the validators returned no result: they did not see the bundle")
	}
	for _, r := range results {
		for _, e := range r.Errors {
			t.Errorf("%s: %v", r.Name, e)
		}
		for _, w := range r.Warnings {
			t.Logf("warning: %s: %v", r.Name, w)
		}
	}
}

// TestCompressedSize keeps the bundle stageable by OLM.
func TestCompressedSize(t *testing.T) {
	b := loadBundle(t)
	if b.CompressedSize == 0 {
		t.Fatal("the bundle loader measured no compressed size")
	}
	if b.CompressedSize >= maxCompressedSize {
		t.Errorf("the compressed bundle is %d bytes, want less than %d", b.CompressedSize, maxCompressedSize)
	}
	t.Logf("bundle: %d bytes, %d compressed", b.Size, b.CompressedSize)
}
