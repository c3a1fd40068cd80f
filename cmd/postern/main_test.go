package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestUnknownCommandFails(t *testing.T) {
	var out, errb bytes.Buffer
	code := run(&cmdEnv{stdout: &out, stderr: &errb}, []string{"nonsense"})
	if code != 2 || !strings.Contains(errb.String(), `unknown command "nonsense"`) {
		t.Fatalf("code %d, stderr %q", code, errb.String())
	}
}

func TestHelpListsCommands(t *testing.T) {
	var out bytes.Buffer
	if code := run(&cmdEnv{stdout: &out}, []string{"help"}); code != 0 {
		t.Fatalf("code %d", code)
	}
	if !strings.Contains(out.String(), "version") {
		t.Fatalf("help output lacks version: %q", out.String())
	}
}
