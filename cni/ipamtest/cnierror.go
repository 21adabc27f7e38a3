package ipamtest

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/containernetworking/cni/pkg/types"
)

// IsCNIError reports whether err is a CNI error of code whose message
// holds want.
func IsCNIError(err error, code uint, want string) bool {
	var cniErr *types.Error
	return errors.As(err, &cniErr) && cniErr.Code == code && strings.Contains(cniErr.Msg, want)
}

// ExpectCNIError fails the test unless err is a CNI error of code whose
// message holds want.
func ExpectCNIError(t testing.TB, err error, code uint, want string) {
	t.Helper()
	if !IsCNIError(err, code, want) {
		t.Fatalf("error = %s; want CNI error %d containing %q", describe(err), code, want)
	}
}

// ExpectExactCNIError fails the test unless err is a CNI error of code
// whose message is exactly msg; code 0 expects no error.
func ExpectExactCNIError(t testing.TB, err error, code uint, msg string) {
	t.Helper()
	if code == 0 {
		if err != nil {
			t.Fatalf("error = %s, want none", describe(err))
		}
		return
	}
	var cniErr *types.Error
	if !errors.As(err, &cniErr) || cniErr.Code != code || cniErr.Msg != msg {
		t.Fatalf("error = %s\nwant      CNI error %d %q", describe(err), code, msg)
	}
}

// describe says what err is: a CNI error's code and message, or any other
// error with its type.
func describe(err error) string {
	var cniErr *types.Error
	if errors.As(err, &cniErr) {
		return fmt.Sprintf("CNI error %d %q", cniErr.Code, cniErr.Msg)
	}
	return fmt.Sprintf("%v (%T)", err, err)
}
