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
	epoch, err := r.epoch(ctx)
	if err != nil {
		return ctrl.Result{}, err
	}
	ds := nodeAgentDaemonSet(r.Namespace, epoch, opts)
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

// epoch returns the epoch of the DaemonSet (nodeAgentEpochAnnotation): the
// one it has, so that applying it again rolls nothing, or now when it is
// to be created. It reads the API server, not the cache, which may still
// hold a DaemonSet just deleted.
//
// An epoch from before the DaemonSet's creation (by more than clock skew)
// came with it from elsewhere: a backup restored, a manifest applied
// again, or the DaemonSet deleted and created between this read and the
// apply. Its agents would yield to those of the DaemonSet the epoch was
// made for, so it is replaced, by a time not before the creation, which
// the next reconcile keeps.
func (r *NodeAgentReconciler) epoch(ctx context.Context) (string, error) {
	ds := &appsv1.DaemonSet{}
	err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: r.Namespace, Name: NodeAgentName}, ds)
	if apierrors.IsNotFound(err) {
		return strconv.FormatInt(time.Now().UnixNano(), 10), nil
	}
	if err != nil {
		return "", fmt.Errorf("get DaemonSet %s/%s: %w", r.Namespace, NodeAgentName, err)
	}
	created := ds.CreationTimestamp.Time
	epoch, err := strconv.ParseInt(ds.Spec.Template.Annotations[nodeAgentEpochAnnotation], 10, 64)
	if err == nil && epoch >= created.Add(-epochClockSkew).UnixNano() {
		return strconv.FormatInt(epoch, 10), nil
	}
	return strconv.FormatInt(max(time.Now().UnixNano(), created.UnixNano()), 10), nil
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
