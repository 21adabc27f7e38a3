package cni

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"k8s.io/client-go/rest"

	"github.com/ipkeeper/ipkeeper/test/harness"
)

// TestPluginWritesNothingToStderr runs STATUS against an API server that
// answers every request with a warning, which client-go prints to stderr
// unless told otherwise: the runtime must read nothing there but what the
// plugin means to say.
func TestPluginWritesNothingToStderr(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Warning", `299 - "ipam.ipkeeper.dev/v1alpha1 IPPool is deprecated"`)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"apiVersion":"ipam.ipkeeper.dev/v1alpha1","kind":"IPPoolList","metadata":{},"items":[]}`))
	}))
	defer srv.Close()
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := harness.WriteKubeconfig(&rest.Config{Host: srv.URL, TLSClientConfig: rest.TLSClientConfig{CAData: ca}, BearerToken: "t"}, kubeconfig); err != nil {
		t.Fatal(err)
	}
	conf, err := json.Marshal(map[string]any{"cniVersion": "1.1.0", "name": "quietnet", "type": "ipkeeper",
		"ipam": harness.IPAMConfig(kubeconfig, "node-quiet", t.TempDir(), "p")})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(binDir, "ipkeeper"))
	cmd.Env = append(os.Environ(), "CNI_COMMAND=STATUS", "CNI_PATH="+binDir)
	cmd.Stdin = bytes.NewReader(conf)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("STATUS: %v; stdout %s", err, stdout.String())
	}
	if stderr.Len() != 0 {
		t.Fatalf("the plugin wrote to stderr:\n%s", stderr.String())
	}
}
