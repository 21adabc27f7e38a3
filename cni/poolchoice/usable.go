package poolchoice

import (
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
	"github.com/ipkeeper/ipkeeper/cni/ipamerr"
)

// usable says why node cannot allocate from pool, or returns nil: what
// holds for every pod of the node; Allows judges the pod's namespace.
func usable(pool *ipamv1alpha1.IPPool, node string, nodeLabels map[string]string) error {
	switch {
	case pool.DeletionTimestamp != nil:
		return ipamerr.New(ErrPoolUnavailable, "pool %s is being deleted: use another pool", pool.Name)
	case pool.Spec.Disabled:
		return ipamerr.New(ErrPoolUnavailable, "pool %s is disabled: enable it or use another pool", pool.Name)
	}
	if ready := meta.FindStatusCondition(pool.Status.Conditions, ipamv1alpha1.PoolReady); ready == nil || ready.Status != metav1.ConditionTrue {
		return ipamerr.New(ErrPoolUnavailable, "pool %s is not Ready (%s): see kubectl describe ippool %s", pool.Name, readiness(ready), pool.Name)
	}
	if pool.Spec.NodeSelector == nil {
		return nil
	}
	selector, err := metav1.LabelSelectorAsSelector(pool.Spec.NodeSelector)
	if err != nil {
		return ipamerr.New(ErrPoolUnavailable, "pool %s has an invalid nodeSelector: %v", pool.Name, err)
	}
	if !selector.Matches(labels.Set(nodeLabels)) {
		return ipamerr.New(ErrNodeNotSelected, "pool %s does not select node %s (nodeSelector %s): label the node or use another pool",
			pool.Name, node, selector)
	}
	return nil
}

func readiness(c *metav1.Condition) string {
	if c == nil {
		return "the operator has not reported on it yet"
	}
	return fmt.Sprintf("%s: %s", c.Reason, c.Message)
}

// Allows says why a pod of namespace (with namespaceLabels) may not
// allocate from pool, or returns nil. A call that names no pod (namespace
// is empty) may use only pools that select every namespace: nothing tells
// which tenant it serves.
func Allows(pool *ipamv1alpha1.IPPool, namespace string, namespaceLabels map[string]string) error {
	selector, err := pool.Spec.NamespaceSelection()
	switch {
	case err != nil:
		return ipamerr.New(ErrPoolUnavailable, "pool %s has an invalid namespaceSelector: %v: fix the pool (kubectl edit ippool %s) or use another pool",
			pool.Name, err, pool.Name)
	case selector == nil:
		return nil
	case namespace == "":
		return ipamerr.New(ErrNamespaceNotSelected,
			"pool %s serves only pods of the namespaces its namespaceSelector (%s) selects, and the runtime named no pod (no K8S_POD_NAMESPACE in CNI_ARGS): use a pool without a namespaceSelector",
			pool.Name, selector)
	case !selector.Matches(labels.Set(namespaceLabels)):
		return ipamerr.New(ErrNamespaceNotSelected, "pool %s does not select namespace %s (namespaceSelector %s): label the namespace or use another pool",
			pool.Name, namespace, selector)
	}
	return nil
}
