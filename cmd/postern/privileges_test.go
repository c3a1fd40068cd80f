package main

import (
	"os"
	"strings"
	"testing"
)

func TestRootWithoutUserIsRefused(t *testing.T) {
	t.Parallel()
	as, err := dropPrivileges("", t.TempDir())
	if os.Geteuid() != 0 {
		if err != nil || as != "" {
			t.Fatalf("not root: want no change, got %q %v", as, err)
		}
		return
	}
	if err == nil || !strings.Contains(err.Error(), "refusing to run the mail store as root") {
		t.Fatalf("root with user = \"\": %q %v", as, err)
	}
	if _, err := dropPrivileges("root", t.TempDir()); err == nil || !strings.Contains(err.Error(), "uid 0") {
		t.Fatalf("user = root accepted: %v", err)
	}
}
