package controllers

import (
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
)

// conflictRetryDelay is how soon an object is looked at again after a write
// based on a stale copy was refused: soon, because the cache is usually only
// milliseconds behind the API server.
const conflictRetryDelay = time.Second

// retryOnConflict turns a Conflict into a quiet requeue. Conflicts are
// expected whenever the cache is a moment behind; they deserve neither an
// error log nor an exponential backoff.
func retryOnConflict(err error) (ctrl.Result, error) {
	if apierrors.IsConflict(err) {
		return ctrl.Result{RequeueAfter: conflictRetryDelay}, nil
	}
	return ctrl.Result{}, err
}
