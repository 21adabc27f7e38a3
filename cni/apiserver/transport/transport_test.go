package transport

import (
	"testing"

	"k8s.io/client-go/rest"
)

// TestShareOneConnectionLeavesPlainHTTPAlone: over plain HTTP, where there
// is no TLS connection to share, the configuration is left as it is.
func TestShareOneConnectionLeavesPlainHTTPAlone(t *testing.T) {
	cfg := &rest.Config{Host: "http://127.0.0.1:8080"}
	if err := ShareOneConnection(cfg); err != nil || cfg.Transport != nil || cfg.WrapTransport != nil {
		t.Fatalf("ShareOneConnection over plain HTTP = %v, transport %v; want no change", err, cfg.Transport)
	}
}
