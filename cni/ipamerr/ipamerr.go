// Package ipamerr is the error of a request that cannot succeed until
// someone changes something (a pool, its claims, an annotation), as the
// plugin's decision packages (poolchoice, allocator) return it: a kind that
// callers test with errors.Is, and a message that says what to do. The
// plugin gives each kind its CNI code; the packages that decide know
// nothing of CNI.
package ipamerr

import "fmt"

// Error is a failure of a kind, with a message for people.
type Error struct {
	// Kind is one of the Err values of the package that failed.
	Kind error
	msg  string
}

// New returns an Error of kind with a formatted message.
func New(kind error, format string, args ...any) *Error {
	return &Error{Kind: kind, msg: fmt.Sprintf(format, args...)}
}

// Error returns the message, which names the pool, address or annotation
// and what to do.
func (e *Error) Error() string { return e.msg }

// Unwrap returns Kind, for errors.Is.
func (e *Error) Unwrap() error { return e.Kind }
