package v1alpha1

import (
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// AllNamespaces is status.namespaces of a pool that every namespace may
// use: kubectl would print "<none>" for an empty selector, which reads as
// the opposite.
const AllNamespaces = "<all>"

// selectorHint ends the message of a namespaceSelector that does not parse.
const selectorHint = "write a label selector such as {matchLabels: {tenant: a}} or {matchExpressions: [{key: tenant, operator: In, values: [a, b]}]}"

// NamespaceSelection returns the pool's namespaceSelector, or nil when the
// pool selects every namespace (no selector, or an empty one): only a pool
// that restricts namespaces needs to know the pod's namespace at all.
func (s *IPPoolSpec) NamespaceSelection() (labels.Selector, error) {
	sel := s.NamespaceSelector
	if sel == nil || (len(sel.MatchLabels) == 0 && len(sel.MatchExpressions) == 0) {
		return nil, nil
	}
	return metav1.LabelSelectorAsSelector(sel)
}

// SelectedNamespaces is status.namespaces for the spec: the selector as
// kubectl prints selectors (tenant=a), AllNamespaces, or <error> for a
// selector that does not parse.
func (s *IPPoolSpec) SelectedNamespaces() string {
	if sel, err := s.NamespaceSelection(); sel == nil && err == nil {
		return AllNamespaces
	}
	return metav1.FormatLabelSelector(s.NamespaceSelector)
}

// ValidateSelectors checks that namespaceSelector parses, naming the field
// at fault. It is apart from Validate because a selector decides who may
// use the pool, not which addresses it has: a pool with a broken selector
// still lays out and counts its claims. (nodeSelector has never been
// checked at admission; the plugin reports a broken one.)
func (s *IPPoolSpec) ValidateSelectors(spec *field.Path) field.ErrorList {
	errs := metav1validation.ValidateLabelSelector(s.NamespaceSelector, metav1validation.LabelSelectorValidationOptions{},
		spec.Child("namespaceSelector"))
	for _, e := range errs {
		if !strings.HasSuffix(e.Detail, selectorHint) {
			e.Detail = strings.TrimSuffix(e.Detail, ".") + ": " + selectorHint
		}
	}
	return errs
}
