// Package transport is the HTTP side of the plugin's API client: every
// request of a CNI call over one connection, and a counter of requests for
// the tests and benchmarks that measure round trips.
package transport

import (
	"net"
	"net/http"
	"sync"
	"sync/atomic"
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

// Counter counts the HTTP requests of the clients built from the
// configurations it is installed on. The zero value is ready to use.
type Counter struct {
	requests atomic.Int64
}

// Install makes cfg count every request in c. It has the shape of the
// configure functions plugin.Load accepts.
func (c *Counter) Install(cfg *rest.Config) {
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(req *http.Request) (*http.Response, error) {
			c.requests.Add(1)
			return rt.RoundTrip(req)
		})
	})
}

// Requests returns how many requests have been counted.
func (c *Counter) Requests() int64 { return c.requests.Load() }

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }
