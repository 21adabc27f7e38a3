package transport

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"k8s.io/client-go/rest"
)

// TestCounterCountsEveryRequest: the counter sees each request of a client
// built after it was installed, parallel ones included, over plain HTTP
// where ShareOneConnection leaves the transport alone.
func TestCounterCountsEveryRequest(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	cfg := &rest.Config{Host: srv.URL}
	var counter Counter
	counter.Install(cfg)
	if err := ShareOneConnection(cfg); err != nil || cfg.Transport != nil {
		t.Fatalf("ShareOneConnection over plain HTTP = %v, transport %v; want no change", err, cfg.Transport)
	}
	client, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, srv.URL+"/api", nil)
			resp, err := client.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			_ = resp.Body.Close()
		})
	}
	wg.Wait()
	if got := counter.Requests(); got != 3 {
		t.Fatalf("counted %d requests, want 3", got)
	}
}
