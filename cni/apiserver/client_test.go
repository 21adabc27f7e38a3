package apiserver

import (
	"context"
	"encoding/pem"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/rest"
)

// TestParallelRequestsShareOneConnection sends three requests at once, as
// the first reads of an ADD do, to a TLS server: they must share one
// connection (one TLS handshake), not dial one each.
func TestParallelRequestsShareOneConnection(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		time.Sleep(20 * time.Millisecond) // keep the requests in flight together
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"apiVersion":"ipam.ipkeeper.dev/v1alpha1","kind":"IPPool","metadata":{"name":"p"},"spec":{"cidr":"10.0.0.0/24"}}`))
	}))
	srv.EnableHTTP2 = true
	srv.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			conns.Add(1)
		}
	}
	srv.StartTLS()
	defer srv.Close()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	c, err := New(&rest.Config{Host: srv.URL, TLSClientConfig: rest.TLSClientConfig{CAData: ca}})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			pool, err := c.Pool(context.Background(), "p")
			if err != nil || pool == nil || pool.Spec.CIDR != "10.0.0.0/24" {
				t.Errorf("Pool = %v, %v", pool, err)
			}
		})
	}
	wg.Wait()
	if n := conns.Load(); n != 1 {
		t.Fatalf("3 parallel requests opened %d connections, want 1", n)
	}
}
