package controllers

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ipkeeper/ipkeeper/test/harness"
)

// getNodeAgent reads the node agent's DaemonSet from the API server.
func getNodeAgent() (*appsv1.DaemonSet, error) {
	ds := &appsv1.DaemonSet{}
	err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: harness.OperatorNamespace, Name: NodeAgentName}, ds)
	return ds, err
}

// TestNodeAgentDaemonSet checks the DaemonSet the operator runs on every
// node: the operator's own image, the node service account and nothing
// else as credential, the host network, every taint tolerated,
// system-node-critical, an update that starts the new agent before the
// old one stops, the nodes' CNI directories; owned by the operator's
// Deployment.
func TestNodeAgentDaemonSet(t *testing.T) {
	var ds *appsv1.DaemonSet
	harness.Eventually(t, operatorTimeout, func() (err error) { ds, err = getNodeAgent(); return err })
	pod := ds.Spec.Template.Spec
	c := pod.Containers[0]
	checks := []struct {
		what      string
		got, want any
	}{
		{"image", c.Image, "registry.invalid/ipkeeper:v9"},
		{"command", c.Command, []string{"/ipkeeper-agent"}},
		{"service account", pod.ServiceAccountName, harness.NodeServiceAccount},
		{"automounted token", *pod.AutomountServiceAccountToken, false},
		{"host network", pod.HostNetwork, true},
		{"priority class", pod.PriorityClassName, "system-node-critical"},
		{"tolerations", pod.Tolerations, []corev1.Toleration{{Operator: corev1.TolerationOpExists}}},
		{"max unavailable", *ds.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable, intstr.FromInt32(0)},
		{"max surge", *ds.Spec.UpdateStrategy.RollingUpdate.MaxSurge, intstr.FromInt32(1)},
		{"CNI bin dir", pod.Volumes[0].HostPath.Path, "/opt/cni/bin"},
		{"CNI conf dir", pod.Volumes[1].HostPath.Path, "/etc/cni/net.d"},
		{"token lifetime", *pod.Volumes[2].Projected.Sources[0].ServiceAccountToken.ExpirationSeconds, int64(agentTokenLifetime)},
		{"network ConfigMap", pod.Volumes[3].ConfigMap.Name, "ipkeeper-network"},
		{"node name", c.Env[0].ValueFrom.FieldRef.FieldPath, "spec.nodeName"},
		{"epoch", c.Env[1].ValueFrom.FieldRef.FieldPath, "metadata.annotations['" + nodeAgentEpochAnnotation + "']"},
		{"generation", c.Env[2].ValueFrom.FieldRef.FieldPath, "metadata.labels['pod-template-generation']"},
		{"readiness", c.ReadinessProbe.Exec.Command[:2], []string{"/ipkeeper-agent", "--check"}},
		{"owner", ds.OwnerReferences[0].Name, operatorDeployment.Name},
	}
	for _, ch := range checks {
		if fmt.Sprint(ch.got) != fmt.Sprint(ch.want) {
			t.Errorf("%s: %v, want %v", ch.what, ch.got, ch.want)
		}
	}
}

// TestNodeAgentDaemonSetIsPutBack changes and then deletes the DaemonSet:
// the operator puts it back as its options describe it. Putting back the
// image keeps the DaemonSet's epoch, and an epoch made for another
// DaemonSet is replaced; the DaemonSet created after the deletion has a
// later one, so that its agents, whose generations count from 1 again,
// supersede the deleted one's on every node.
func TestNodeAgentDaemonSetIsPutBack(t *testing.T) {
	ctx := context.Background()
	var ds *appsv1.DaemonSet
	harness.Eventually(t, operatorTimeout, func() (err error) { ds, err = getNodeAgent(); return err })
	epoch := epochOf(t, ds)
	changeNodeAgent(t, func(ds *appsv1.DaemonSet) {
		ds.Spec.Template.Spec.Containers[0].Image = "registry.invalid/someone-else:1"
	})
	harness.Eventually(t, operatorTimeout, func() (err error) {
		ds, err = getNodeAgent()
		if err == nil && ds.Spec.Template.Spec.Containers[0].Image != "registry.invalid/ipkeeper:v9" {
			err = errors.New("image still " + ds.Spec.Template.Spec.Containers[0].Image)
		}
		return err
	})
	if got := epochOf(t, ds); got != epoch {
		t.Errorf("putting the image back changed the epoch from %d to %d", epoch, got)
	}
	// An epoch made for another DaemonSet came with it from elsewhere (a
	// backup restored): it is replaced.
	changeNodeAgent(t, func(ds *appsv1.DaemonSet) {
		ds.Spec.Template.Annotations[nodeAgentEpochAnnotation] = "1000"
		ds.SetAnnotations(map[string]string{nodeAgentEpochOfAnnotation: "uid-of-the-backed-up-daemonset"})
	})
	harness.Eventually(t, operatorTimeout, func() (err error) {
		if ds, err = getNodeAgent(); err == nil && epochOf(t, ds) < ds.CreationTimestamp.UnixNano() {
			err = fmt.Errorf("epoch %d, before the DaemonSet's creation", epochOf(t, ds))
		}
		return err
	})
	epoch = epochOf(t, ds)
	if err := env.Client.Delete(ctx, ds); err != nil {
		t.Fatal(err)
	}
	// The operator may have read the DaemonSet just before it was
	// deleted, and create the new one with its epoch: it then replaces it.
	harness.Eventually(t, operatorTimeout, func() error {
		again, err := getNodeAgent()
		switch {
		case err != nil:
			return err
		case again.UID == ds.UID:
			return errors.New("the deleted DaemonSet is still there")
		case epochOf(t, again) <= epoch:
			return fmt.Errorf("the recreated DaemonSet has epoch %d, not later than the deleted one's %d", epochOf(t, again), epoch)
		}
		return nil
	})
}

// changeNodeAgent changes the node agent's DaemonSet as a person would,
// reading it again when the operator wrote it meanwhile.
func changeNodeAgent(t *testing.T, change func(*appsv1.DaemonSet)) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		ds, err := getNodeAgent()
		if err != nil {
			return err
		}
		change(ds)
		return env.Client.Update(context.Background(), ds)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// epochOf returns the epoch of the node agent's DaemonSet.
func epochOf(t *testing.T, ds *appsv1.DaemonSet) int64 {
	t.Helper()
	epoch, err := strconv.ParseInt(ds.Spec.Template.Annotations[nodeAgentEpochAnnotation], 10, 64)
	if err != nil {
		t.Fatalf("epoch of DaemonSet %s: %v", ds.Name, err)
	}
	return epoch
}
