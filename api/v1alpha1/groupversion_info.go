// Package v1alpha1 holds the ipam.ipkeeper.dev/v1alpha1 API: the IPPool and
// IPClaim kinds, the CEL rules the CRDs enforce on their own, and the pure
// address maths (claim names, usable addresses, node blocks) that every other
// part of ipkeeper shares.
//
// +kubebuilder:object:generate=true
// +groupName=ipam.ipkeeper.dev
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of every ipkeeper kind.
	GroupVersion = schema.GroupVersion{Group: "ipam.ipkeeper.dev", Version: "v1alpha1"}

	// SchemeBuilder registers the kinds of this package with a scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the kinds of this package to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
