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
// image keeps the DaemonSet's epoch, and an epoch older than the DaemonSet
// is replaced; the DaemonSet created after the deletion has a later one,
// so that its agents, whose generations count from 1 again, supersede the
// deleted one's on every node.
func TestNodeAgentDaemonSetIsPutBack(t *testing.T) {
	ctx := context.Background()
	var ds *appsv1.DaemonSet
	harness.Eventually(t, operatorTimeout, func() (err error) { ds, err = getNodeAgent(); return err })
	epoch := epochOf(t, ds)
	ds.Spec.Template.Spec.Containers[0].Image = "registry.invalid/someone-else:1"
	if err := env.Client.Update(ctx, ds); err != nil {
		t.Fatal(err)
	}
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
	// An epoch from before the DaemonSet's creation came with it from
	// elsewhere (a backup restored): it is replaced.
	ds.Spec.Template.Annotations[nodeAgentEpochAnnotation] = "1000"
	if err := env.Client.Update(ctx, ds); err != nil {
		t.Fatal(err)
	}
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
	var again *appsv1.DaemonSet
	harness.Eventually(t, operatorTimeout, func() (err error) {
		again, err = getNodeAgent()
		if err == nil && again.UID == ds.UID {
			err = errors.New("the deleted DaemonSet is still there")
		}
		return err
	})
	if got := epochOf(t, again); got <= epoch {
		t.Errorf("the recreated DaemonSet has epoch %d, not later than the deleted one's %d", got, epoch)
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
