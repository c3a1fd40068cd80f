package testkit

import (
	"os"
	"os/exec"
	"testing"
	"time"
)

// RequireToolsEnv is the environment variable that, set to "1" (as CI
// does), turns a missing third-party tool from a skip into a failure.
const RequireToolsEnv = "POSTERN_REQUIRE_TOOLS"

// RequireTool returns the path of a third-party program: the first of
// names found on PATH or, for a path, present. When none is, it skips the
// test, or fails it when POSTERN_REQUIRE_TOOLS=1.
func RequireTool(t testing.TB, names ...string) string {
	t.Helper()
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
		if _, err := os.Stat(n); err == nil {
			return n
		}
	}
	Unavailable(t, "%v not installed", names)
	return ""
}

// Unavailable skips the test for a missing prerequisite described by
// format and args, or fails it when POSTERN_REQUIRE_TOOLS=1.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv(RequireToolsEnv) == "1" {
		t.Fatalf(format+" ("+RequireToolsEnv+"=1)", args...)
	}
	t.Skipf(format, args...)
}

// WaitTimeout bounds WaitFor: generous, since only failures wait that
// long.
const WaitTimeout = 20 * time.Second

// WaitFor polls cond every 10 ms until it holds, and fails the test when
// it still does not after WaitTimeout.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(WaitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// WaitForItem polls list every 10 ms until one of its items satisfies ok,
// and returns that item. list also reports whether its listing is
// complete; an incomplete one fails the test, as does no such item
// within timeout.
func WaitForItem[T any](t testing.TB, timeout time.Duration, list func() ([]T, bool), ok func(T) bool) T {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		items, complete := list()
		if !complete {
			t.Fatal("listing incomplete with nothing holding it")
		}
		for _, it := range items {
			if ok(it) {
				return it
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no such item in %+v", items)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
