// Package webhooks holds ipkeeper's validating admission webhooks, one
// validator per kind. They close what the CRDs' own rules cannot see across
// objects: overlapping pools, claims outside their pool, duplicate claims for
// one pod interface, and claims a node is not entitled to make.
package webhooks

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
	ctrl "sigs.k8s.io/controller-runtime"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
)

// SetupWithManager registers the validators with mgr's webhook server. The
// manager's cache must already index IPClaim fields
// (claimindex.Register).
func SetupWithManager(mgr ctrl.Manager) error {
	pools := &IPPoolValidator{Reader: mgr.GetCache()}
	if err := forgetCachedPools(mgr, pools); err != nil {
		return err
	}
	if err := ctrl.NewWebhookManagedBy(mgr, &ipamv1alpha1.IPPool{}).WithValidator(pools).Complete(); err != nil {
		return fmt.Errorf("register the IPPool webhook: %w", err)
	}
	// Claims of pools with a namespaceSelector read their namespace's
	// labels: start that informer (metadata only) with the manager too.
	if _, err := mgr.GetCache().GetInformer(context.Background(), namespaceMeta()); err != nil {
		return fmt.Errorf("get the Namespace metadata informer: %w", err)
	}
	claims := &IPClaimValidator{Reader: mgr.GetCache(), APIReader: mgr.GetAPIReader()}
	if err := ctrl.NewWebhookManagedBy(mgr, &ipamv1alpha1.IPClaim{}).WithValidator(claims).Complete(); err != nil {
		return fmt.Errorf("register the IPClaim webhook: %w", err)
	}
	// The webhook server starts before the cache has synced; until it has,
	// every answer would be a server error. Readiness waits for it.
	if err := mgr.AddReadyzCheck("webhook-cache", cacheSynced(mgr)); err != nil {
		return fmt.Errorf("add the webhook cache readiness check: %w", err)
	}
	return nil
}

// forgetCachedPools starts the IPPool informer with the manager (so that the
// first admission does not wait for it) and tells the pool validator when a
// pool it admitted reaches the cache.
func forgetCachedPools(mgr ctrl.Manager, v *IPPoolValidator) error {
	informer, err := mgr.GetCache().GetInformer(context.Background(), &ipamv1alpha1.IPPool{})
	if err != nil {
		return fmt.Errorf("get the IPPool informer: %w", err)
	}
	seen := func(obj any) {
		if pool, ok := obj.(*ipamv1alpha1.IPPool); ok {
			v.forget(pool.Name)
		}
	}
	_, err = informer.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    seen,
		UpdateFunc: func(_, obj any) { seen(obj) },
	})
	if err != nil {
		return fmt.Errorf("watch IPPools for the webhook: %w", err)
	}
	return nil
}

// namespaceMeta is an empty Namespace as metadata: the webhook needs only
// namespaces' labels, and a metadata informer holds nothing else.
func namespaceMeta() *metav1.PartialObjectMetadata {
	ns := &metav1.PartialObjectMetadata{}
	ns.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
	return ns
}

// cacheSynced is a readiness check that passes once the manager's cache
// has synced.
func cacheSynced(mgr ctrl.Manager) func(*http.Request) error {
	return func(req *http.Request) error {
		ctx, cancel := context.WithTimeout(req.Context(), 200*time.Millisecond)
		defer cancel()
		if !mgr.GetCache().WaitForCacheSync(ctx) {
			return errors.New("the webhook's cache has not synced yet")
		}
		return nil
	}
}
