// Package transport is the HTTP side of the plugin's API client: every
// request of a CNI call over one connection.
package transport

import (
	"net"
	"net/http"
	"sync"
	"time"

	"k8s.io/client-go/rest"
)

// ShareOneConnection sends every request of the call over one connection.
// net/http dials a new connection for each request started before the
// first one is up, so the parallel first reads of an ADD would cost three
// TLS handshakes, a sixth of the plugin's CPU and of the API server's.
func ShareOneConnection(cfg *rest.Config) error {
	tlsConfig, err := rest.TLSConfigFor(cfg)
	if err != nil || tlsConfig == nil {
		return err // plain HTTP: no handshake to save
	}
	proxy := cfg.Proxy
	if proxy == nil {
		proxy = http.ProxyFromEnvironment
	}
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	cfg.Transport = &oneConnection{transport: &http.Transport{
		TLSClientConfig: tlsConfig, Proxy: proxy, DialContext: dialer.DialContext,
		TLSHandshakeTimeout: 10 * time.Second, ForceAttemptHTTP2: true,
	}}
	// The transport now carries the TLS settings; client-go refuses both.
	cfg.TLSClientConfig, cfg.Proxy = rest.TLSClientConfig{}, nil
	return nil
}

// oneConnection is a RoundTripper over a single connection, dialled by the
// first request that needs it while the others wait, and dialled again if
// it breaks. Over HTTP/2 the requests share it concurrently.
type oneConnection struct {
	transport *http.Transport
	mu        sync.Mutex
	conn      *http.ClientConn
}

// RoundTrip implements http.RoundTripper.
func (o *oneConnection) RoundTrip(req *http.Request) (*http.Response, error) {
	conn, err := o.connection(req)
	if err != nil {
		return nil, err
	}
	return conn.RoundTrip(req)
}

func (o *oneConnection) connection(req *http.Request) (*http.ClientConn, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.conn != nil && o.conn.Err() == nil {
		return o.conn, nil
	}
	port := req.URL.Port()
	if port == "" {
		port = "443"
	}
	conn, err := o.transport.NewClientConn(req.Context(), req.URL.Scheme, net.JoinHostPort(req.URL.Hostname(), port))
	if err != nil {
		return nil, err
	}
	o.conn = conn
	return conn, nil
}
