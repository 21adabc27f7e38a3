package controllers

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestNodeAgentServer gives the plugin an API server address of its own,
// for nodes whose host network cannot reach the kubernetes Service: the
// agent is told it; without one it uses the Service's.
func TestNodeAgentServer(t *testing.T) {
	argsWith := func(server string) []string {
		ds := nodeAgentDaemonSet("ipkeeper-system", "1", NodeAgentOptions{Image: "ipkeeper:v1", Server: server})
		return ds.Spec.Template.Spec.Containers[0].Args
	}
	if args := argsWith("https://10.0.0.10:6443"); !slices.Contains(args, "--server=https://10.0.0.10:6443") {
		t.Errorf("the agent's arguments %q do not name the server", args)
	}
	setsServer := func(arg string) bool { return strings.HasPrefix(arg, "--server=") }
	if args := argsWith(""); slices.ContainsFunc(args, setsServer) {
		t.Errorf("with no server, the agent's arguments %q still set one", args)
	}
}

// TestEpochFor decides the epoch of the node agent's DaemonSet: a new one
// gets now; one whose epoch was made for it keeps it, so that applying it
// again rolls nothing; one that came with another DaemonSet's epoch (its
// annotation names another UID, or the epoch is older than it) gets a
// time not before its creation, which it then keeps.
func TestEpochFor(t *testing.T) {
	created := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	now := created.Add(time.Hour)
	nanos := func(t time.Time) string { return strconv.FormatInt(t.UnixNano(), 10) }
	daemonSet := func(epoch, epochOf string) *appsv1.DaemonSet {
		ds := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{UID: "uid-now", CreationTimestamp: metav1.NewTime(created)}}
		if epochOf != "" {
			ds.Annotations = map[string]string{nodeAgentEpochOfAnnotation: epochOf}
		}
		if epoch != "" {
			ds.Spec.Template.Annotations = map[string]string{nodeAgentEpochAnnotation: epoch}
		}
		return ds
	}
	for _, c := range []struct {
		name string
		ds   *appsv1.DaemonSet
		now  time.Time
		want string
	}{
		{"to be created", nil, now, nanos(now)},
		{"just created, its epoch not yet claimed", daemonSet(nanos(created.Add(-time.Millisecond)), ""), now, nanos(created.Add(-time.Millisecond))},
		{"an operator clock a minute behind", daemonSet(nanos(created.Add(-time.Minute)), ""), now, nanos(created.Add(-time.Minute))},
		{"its own epoch, however old", daemonSet("1000", "uid-now"), now, "1000"},
		{"created with its deleted predecessor's epoch", daemonSet(nanos(created.Add(-time.Second)), "uid-before"), now, nanos(now)},
		{"restored from a backup", daemonSet(nanos(created.Add(-24*time.Hour)), ""), now, nanos(now)},
		{"restored, with the operator's clock behind the API server's", daemonSet("1000", "uid-before"), created.Add(-time.Hour), nanos(created)},
		{"no epoch", daemonSet("", ""), now, nanos(now)},
		{"an epoch that is not a number", daemonSet("yesterday", "uid-now"), now, nanos(now)},
	} {
		got := epochFor(c.ds, c.now)
		if got != c.want {
			t.Errorf("%s: epoch %s, want %s", c.name, got, c.want)
		}
		if c.ds != nil { // as the operator applies it
			c.ds.Annotations = map[string]string{nodeAgentEpochOfAnnotation: string(c.ds.UID)}
			c.ds.Spec.Template.Annotations = map[string]string{nodeAgentEpochAnnotation: got}
			if again := epochFor(c.ds, c.now.Add(time.Minute)); again != got {
				t.Errorf("%s: applied again, epoch %s changed to %s", c.name, got, again)
			}
		}
	}
}

// TestNodeAgentServerMustBeHTTPS refuses, at the operator's start, a
// server address every node's kubeconfig would carry that is not the API
// server's https URL.
func TestNodeAgentServerMustBeHTTPS(t *testing.T) {
	for server, ok := range map[string]bool{
		"":                       true,
		"https://10.0.0.10:6443": true,
		"https://api.example":    true,
		"http://10.0.0.10:6443":  false,
		"10.0.0.10:6443":         false,
		"https://":               false,
	} {
		err := NodeAgentOptions{Server: server}.Check()
		if (err == nil) != ok {
			t.Errorf("server %q: %v, want accepted %v", server, err, ok)
		}
		if err != nil && !strings.Contains(err.Error(), "--node-agent-server") {
			t.Errorf("server %q: the error %q does not name the flag", server, err)
		}
	}
}
