package harness

import (
	"os"
	"testing"
)

// RequireRootEnv names the variable that makes RequireRoot fail rather than
// skip: CI sets it to 1, so that a test needing root cannot pass there by
// skipping.
const RequireRootEnv = "IPKEEPER_REQUIRE_ROOT"

// RequireRoot stops a test that needs root (network namespaces, links) when
// not run as root: it skips, saying why, or fails when RequireRootEnv is 1.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv(RequireRootEnv) == "1" {
		t.Fatalf("%s needs root, and %s=1 forbids skipping it: run the tests as root", t.Name(), RequireRootEnv)
	}
	t.Skipf("%s needs root: skipped; run the tests as root (CI does, and sets %s=1 so that it fails instead of skipping)", t.Name(), RequireRootEnv)
}
