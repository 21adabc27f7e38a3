package harness

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// FreeLocalAddr returns a loopback host:port that nothing listens on, for a
// manager's metrics server.
func FreeLocalAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer func() { _ = l.Close() }()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(l.Addr().(*net.TCPAddr).Port)), nil
}

// ScrapeMetrics reads the /metrics a manager serves at addr and returns the
// value of every sample by its name and labels as printed, e.g.
// `ipkeeper_pool_free{pool="p"}`.
func ScrapeMetrics(addr string) (map[string]float64, error) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	samples := map[string]float64{}
	lines := bufio.NewScanner(resp.Body)
	for lines.Scan() {
		line := lines.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			return nil, fmt.Errorf("parse sample %q: %w", line, err)
		}
		samples[line[:i]] = v
	}
	return samples, lines.Err()
}

// MetricValue returns the value of series, its name and labels as printed,
// in the /metrics a manager serves at addr; the test fails when the series
// is missing.
func MetricValue(t testing.TB, addr, series string) float64 {
	t.Helper()
	samples, err := ScrapeMetrics(addr)
	if err != nil {
		t.Fatal(err)
	}
	v, ok := samples[series]
	if !ok {
		t.Fatalf("no series %s in the /metrics at %s", series, addr)
	}
	return v
}
