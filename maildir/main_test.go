package maildir

import (
	"os"
	"testing"
)

// TestMain runs the crash test's child when asked to (see crash_test.go),
// and the tests and benchmarks otherwise, then removes the benchmark
// fixture.
func TestMain(m *testing.M) {
	if root := os.Getenv(crashChildEnv); root != "" {
		os.Exit(crashChild(root))
	}
	code := m.Run()
	removeBenchFixture()
	os.Exit(code)
}
