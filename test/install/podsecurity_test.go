package install

import (
	"context"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ipkeeper/ipkeeper/controllers"
	"github.com/ipkeeper/ipkeeper/test/harness"
)

// TestNodeAgentPodsAreAdmittedInTheRenderedNamespace creates a namespace
// labelled as config/default labels the operator's, on an API server that
// holds pods to the baseline Pod Security Standard by default, and a pod
// of the node agent's DaemonSet in it (host network, host paths, root):
// the namespace's labels let it in, where a namespace without them does
// not.
func TestNodeAgentPodsAreAdmittedInTheRenderedNamespace(t *testing.T) {
	ctx := context.Background()
	ds := nodeAgentDaemonSet(t)
	labels := only(t, rendered(t), "Namespace").GetLabels()
	agentPod := func(namespace string) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "node-agent"},
			Spec:       *ds.Spec.Template.Spec.DeepCopy(),
		}
	}
	unlabelled := createNamespace(t, "psa-unlabelled-", nil)
	if err := env.Client.Create(ctx, agentPod(unlabelled), client.DryRunAll); !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "violates PodSecurity") {
		t.Fatalf("a node agent pod in a namespace without labels: %v, want refused by Pod Security admission", err)
	}
	labelled := createNamespace(t, "psa-rendered-", labels)
	if err := env.Client.Create(ctx, agentPod(labelled), client.DryRunAll); err != nil {
		t.Errorf("a node agent pod in a namespace labelled %v: %v", labels, err)
	}
}

// createNamespace creates a namespace named from prefix with labels, and
// deletes it when the test ends (it stays Terminating: the test control
// plane runs no namespace controller, hence a name of its own each run).
func createNamespace(t *testing.T, prefix string, labels map[string]string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix, Labels: labels}}
	if err := env.Client.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), ns) })
	return ns.Name
}

// nodeAgentDaemonSet waits for the node agent's DaemonSet, which the test
// operator creates when it starts, and returns it.
func nodeAgentDaemonSet(t *testing.T) *appsv1.DaemonSet {
	t.Helper()
	ds := &appsv1.DaemonSet{}
	harness.Eventually(t, 30*time.Second, func() error {
		return env.Client.Get(context.Background(), client.ObjectKey{Namespace: harness.OperatorNamespace, Name: controllers.NodeAgentName}, ds)
	})
	return ds
}
