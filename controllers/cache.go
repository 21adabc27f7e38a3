package controllers

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// CacheOptions are the options of the manager's cache, which the
// controllers and the webhooks share. It holds every claim, every pod and
// every node of the cluster, so it keeps of each only what they read:
//   - no object's managedFields;
//   - of pods and nodes, which are watched as metadata only, their
//     identity: a pod's namespace, name, UID and the annotation in which a
//     mirror pod keeps its static pod's UID; a node's name and UID. Labels,
//     annotations and owner references of pods are larger than all the
//     rest, and no controller reads them;
//   - of DaemonSets, those of the operator's namespace (the node agent's).
func CacheOptions(namespace string) cache.Options {
	return cache.Options{
		DefaultTransform: cache.TransformStripManagedFields(),
		ByObject: map[client.Object]cache.ByObject{
			&appsv1.DaemonSet{}:        {Namespaces: map[string]cache.Config{namespace: {}}},
			metadataOf("Pod", "", ""):  {Transform: KeepIdentity},
			metadataOf("Node", "", ""): {Transform: KeepIdentity},
		},
	}
}

// KeepIdentity is the cache's transform of pods and nodes watched as
// metadata: it keeps their namespace, name, UID and resourceVersion, a
// deletion in progress, and of the annotations only the static pod's UID
// of a mirror pod, which tells the garbage collector the pod exists. Other
// objects pass unchanged.
func KeepIdentity(in any) (any, error) {
	obj, ok := in.(*metav1.PartialObjectMetadata)
	if !ok {
		return in, nil
	}
	out := &metav1.PartialObjectMetadata{TypeMeta: obj.TypeMeta, ObjectMeta: metav1.ObjectMeta{
		Namespace: obj.Namespace, Name: obj.Name, UID: obj.UID, ResourceVersion: obj.ResourceVersion,
		DeletionTimestamp: obj.DeletionTimestamp,
	}}
	if uid, ok := obj.Annotations[corev1.MirrorPodAnnotationKey]; ok {
		out.Annotations = map[string]string{corev1.MirrorPodAnnotationKey: uid}
	}
	return out, nil
}
