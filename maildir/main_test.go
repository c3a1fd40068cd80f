package maildir

import (
	"os"
	"testing"
)

// TestMain runs the crash test's child (see crash_test.go) or the
// two-process concurrency test's (see raceChild) when asked to,
// and the tests and benchmarks otherwise, then removes the benchmark
// fixture.
func TestMain(m *testing.M) {
	if root := os.Getenv(crashChildEnv); root != "" {
		os.Exit(crashChild(root))
	}
	if root := os.Getenv(raceChildEnv); root != "" {
		os.Exit(raceChild(root))
	}
	code := m.Run()
	removeBenchFixture()
	os.Exit(code)
}
