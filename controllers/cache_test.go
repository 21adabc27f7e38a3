package controllers

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
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
