package controllers

import (
	"context"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
	"github.com/ipkeeper/ipkeeper/test/harness"
)

func TestKeepIdentity(t *testing.T) {
	deleted := metav1.Now()
	full := func(annotations map[string]string) *metav1.PartialObjectMetadata {
		return &metav1.PartialObjectMetadata{
			TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
			ObjectMeta: metav1.ObjectMeta{
				Namespace: "web", Name: "web-0", UID: "uid-1", ResourceVersion: "42", DeletionTimestamp: &deleted,
				GenerateName: "web-", Labels: map[string]string{"app": "web"}, Annotations: annotations,
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web", UID: "uid-rs", Controller: ptr.To(true)}},
				ManagedFields:   []metav1.ManagedFieldsEntry{{Manager: "kubelet"}},
			},
		}
	}
	identity := func(annotations map[string]string) *metav1.PartialObjectMetadata {
		return &metav1.PartialObjectMetadata{
			TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
			ObjectMeta: metav1.ObjectMeta{
				Namespace: "web", Name: "web-0", UID: "uid-1", ResourceVersion: "42", DeletionTimestamp: &deleted, Annotations: annotations,
			},
		}
	}
	claim := &ipamv1alpha1.IPClaim{ObjectMeta: metav1.ObjectMeta{Name: "10.0.0.1", Labels: map[string]string{"a": "b"}}}
	tests := []struct {
		name    string
		in, out any
	}{
		{"a pod's metadata", full(map[string]string{"prometheus.io/scrape": "true"}), identity(nil)},
		{"a mirror pod keeps its static pod's UID", full(map[string]string{corev1.MirrorPodAnnotationKey: "uid-static", "x": "y"}),
			identity(map[string]string{corev1.MirrorPodAnnotationKey: "uid-static"})},
		{"other objects pass unchanged", claim, claim},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := KeepIdentity(tt.in)
			if err != nil || !reflect.DeepEqual(got, tt.out) {
				t.Fatalf("KeepIdentity = %+v, %v\nwant %+v", got, err, tt.out)
			}
		})
	}
}

// TestCacheOptionsKeepWhatIsRead starts a cache with the manager's options
// on the real API server: the claims it holds have no managedFields, which
// the API server writes on every object, and the pods only their
// identity.
func TestCacheOptionsKeepWhatIsRead(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	opts := CacheOptions(harness.OperatorNamespace)
	opts.Scheme = env.Scheme
	c, err := cache.New(env.Config, opts)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = c.Start(ctx) }()
	env.CreatePool(t, "cache-pool", ipamv1alpha1.IPPoolSpec{CIDR: "10.112.0.0/24"})
	claim := env.CreateClaim(t, harness.AddressClaim("cache-pool", "", "10.112.0.1", 24, harness.RuntimeOwner("c-cache")))
	pod := env.CreatePod(t, "default", "cache-pod", map[string]string{"example.com/big": "value"})
	if len(claim.ManagedFields) == 0 || len(pod.ManagedFields) == 0 {
		t.Fatal("the API server wrote no managedFields: the test shows nothing")
	}
	cached := &ipamv1alpha1.IPClaim{}
	cachedPod := metadataOf("Pod", pod.Namespace, pod.Name)
	harness.Eventually(t, operatorTimeout, func() error {
		if err := c.Get(ctx, client.ObjectKeyFromObject(claim), cached); err != nil {
			return err
		}
		return c.Get(ctx, client.ObjectKeyFromObject(pod), cachedPod)
	})
	if len(cached.ManagedFields) != 0 {
		t.Errorf("the cached claim keeps managedFields %v", cached.ManagedFields)
	}
	if cachedPod.ManagedFields != nil || cachedPod.Annotations != nil || cachedPod.UID != pod.UID {
		t.Errorf("the cached pod is %+v, want its identity only", cachedPod.ObjectMeta)
	}
}
