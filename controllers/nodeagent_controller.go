package controllers

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"
)

// NodeAgentReconciler keeps the node agent's DaemonSet as the operator's
// options describe it, putting back whatever someone changed or deleted.
// The DaemonSet belongs to the operator's Deployment, when the operator runs
// as one, so that uninstalling the operator removes it; what the agents
// wrote stays on the nodes.
type NodeAgentReconciler struct {
	client.Client
	// APIReader reads the operator's Deployment, which the cache does not
	// hold, and the DaemonSet as it is now.
	APIReader client.Reader
	// Namespace is the operator's namespace, where the DaemonSet goes.
	Namespace string
	// Deployment is the name of the operator's Deployment: the owner of
	// the DaemonSet, and the source of its image when Agent.Image is empty.
	Deployment string
	// Agent describes the node agent.
	Agent NodeAgentOptions
}

// managerContainer is the name of the manager's container in its
// Deployment.
const managerContainer = "manager"

// delete, which the operator never does itself, is what the API servers
// that enforce owner references ask of a writer that changes the
// DaemonSet's owner (after an upgrade or the Deployment's recreation).
// +kubebuilder:rbac:groups=apps,namespace=system,resources=daemonsets,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=apps,namespace=system,resources=deployments,verbs=get

// SetupWithManager reconciles the DaemonSet at start and whenever its spec
// changes or it is deleted.
func (r *NodeAgentReconciler) SetupWithManager(mgr ctrl.Manager) error {
	ours := predicate.NewPredicateFuncs(func(obj client.Object) bool {
		return obj.GetNamespace() == r.Namespace && obj.GetName() == NodeAgentName
	})
	// Only changes of spec matter: the status changes with every agent
	// pod's readiness, and a large cluster has many.
	return ctrl.NewControllerManagedBy(mgr).
		For(&appsv1.DaemonSet{}, builder.WithPredicates(ours, predicate.GenerationChangedPredicate{})).
		WatchesRawSource(source.Func(r.once)).
		Named("node-agent").
		Complete(r)
}

// once enqueues the DaemonSet when the controller starts: it may not exist.
func (r *NodeAgentReconciler) once(_ context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request]) error {
	q.Add(reconcile.Request{NamespacedName: types.NamespacedName{Namespace: r.Namespace, Name: NodeAgentName}})
	return nil
}

// Reconcile applies the DaemonSet.
func (r *NodeAgentReconciler) Reconcile(ctx context.Context, _ ctrl.Request) (ctrl.Result, error) {
	owner, err := r.ownerDeployment(ctx)
	if err != nil {
		return ctrl.Result{}, err
	}
	opts := r.Agent
	if opts.Image == "" {
		opts.Image = imageOf(owner)
	}
	if opts.Image == "" {
		return ctrl.Result{}, errors.New("no image for the node agent: set --node-agent-image or RELATED_IMAGE_CNI, or run the operator as Deployment " + r.Deployment)
	}
	current, err := r.currentDaemonSet(ctx)
	if err != nil {
		return ctrl.Result{}, err
	}
	ds := nodeAgentDaemonSet(r.Namespace, epochFor(current, time.Now()), opts)
	if current != nil {
		// The epoch is this DaemonSet's: if it was deleted since it was
		// read, the one this apply creates says so (epochFor).
		ds.WithAnnotations(map[string]string{nodeAgentEpochOfAnnotation: string(current.UID)})
	}
	if owner != nil {
		// Not blockOwnerDeletion: where owner references are enforced
		// (OpenShift), setting it needs the right to update the
		// Deployment's finalizers, which the operator need not hold.
		ds.WithOwnerReferences(metav1ac.OwnerReference().
			WithAPIVersion("apps/v1").WithKind("Deployment").WithName(owner.Name).WithUID(owner.UID).
			WithController(true))
	}
	if err := r.Apply(ctx, ds, client.FieldOwner(fieldOwner), client.ForceOwnership); err != nil {
		return ctrl.Result{}, fmt.Errorf("apply DaemonSet %s/%s: %w", r.Namespace, NodeAgentName, err)
	}
	return ctrl.Result{}, nil
}

// currentDaemonSet returns the DaemonSet as it is now, or nil when there
// is none. It reads the API server, not the cache, which may still hold a
// DaemonSet just deleted.
func (r *NodeAgentReconciler) currentDaemonSet(ctx context.Context) (*appsv1.DaemonSet, error) {
	ds := &appsv1.DaemonSet{}
	err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: r.Namespace, Name: NodeAgentName}, ds)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get DaemonSet %s/%s: %w", r.Namespace, NodeAgentName, err)
	}
	return ds, nil
}

// epochFor returns the epoch (nodeAgentEpochAnnotation) to apply to ds,
// nil when it is to be created, at now: for a new DaemonSet, now; for one
// whose epoch was made for it, that epoch, so that applying it again rolls
// nothing.
//
// An epoch made for another DaemonSet came with this one from elsewhere:
// the apply that created it read its deleted predecessor (its
// nodeAgentEpochOfAnnotation names the predecessor's UID), or a backup
// was restored (the same, or an epoch from before its creation by more
// than clock skew). Its agents would yield to those of the DaemonSet the
// epoch was made for, so it is replaced, by a time not before the
// creation.
func epochFor(ds *appsv1.DaemonSet, now time.Time) string {
	if ds == nil {
		return strconv.FormatInt(now.UnixNano(), 10)
	}
	created := ds.CreationTimestamp.Time
	epochOf := ds.Annotations[nodeAgentEpochOfAnnotation]
	epoch, err := strconv.ParseInt(ds.Spec.Template.Annotations[nodeAgentEpochAnnotation], 10, 64)
	ours := epochOf == string(ds.UID) || (epochOf == "" && epoch >= created.Add(-epochClockSkew).UnixNano())
	if err == nil && ours {
		return strconv.FormatInt(epoch, 10)
	}
	return strconv.FormatInt(max(now.UnixNano(), created.UnixNano()), 10)
}

// epochClockSkew is how far the operator's clock may be behind the API
// server's, which stamps the DaemonSet's creation, before an epoch the
// operator chose looks older than its DaemonSet.
const epochClockSkew = time.Minute

// ownerDeployment returns the operator's Deployment, or nil when the
// operator does not run as one (outside a cluster, in tests, in the demo).
func (r *NodeAgentReconciler) ownerDeployment(ctx context.Context) (*appsv1.Deployment, error) {
	if r.Deployment == "" {
		return nil, nil
	}
	d := &appsv1.Deployment{}
	err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: r.Namespace, Name: r.Deployment}, d)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get Deployment %s/%s: %w", r.Namespace, r.Deployment, err)
	}
	return d, nil
}

// imageOf returns the image of the manager's container, the default image
// of the node agent: one image holds the manager, the agent and the plugin.
func imageOf(d *appsv1.Deployment) string {
	if d == nil {
		return ""
	}
	for _, c := range d.Spec.Template.Spec.Containers {
		if c.Name == managerContainer {
			return c.Image
		}
	}
	return ""
}
