// Package v1alpha1 holds the ipam.ipkeeper.dev/v1alpha1 API: the IPPool and
// IPClaim kinds, the CEL rules the CRDs enforce on their own, and the pure
// address maths (claim names, usable addresses, node blocks) that every other
// part of ipkeeper shares.
//
// +kubebuilder:object:generate=true
// +groupName=ipam.ipkeeper.dev
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the group and version of every ipkeeper kind.
	GroupVersion = schema.GroupVersion{Group: "ipam.ipkeeper.dev", Version: "v1alpha1"}

	// SchemeBuilder registers the kinds of this package with a scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds the kinds of this package to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(scheme *runtime.Scheme) error {
	scheme.AddKnownTypes(GroupVersion, &IPPool{}, &IPPoolList{}, &IPClaim{}, &IPClaimList{})
	metav1.AddToGroupVersion(scheme, GroupVersion)
	return nil
}
