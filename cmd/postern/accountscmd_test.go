package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestUserAliasDomainCommands(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	runIn := func(stdin string, args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(&cmdEnv{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb}, append([]string{args[0], args[1], "-data", data}, args[2:]...))
		return code, out.String(), errb.String()
	}
	if code, _, e := runIn("long enough pw\n", "user", "add", "--password-stdin", "anna@example.org"); code != 1 || !strings.Contains(e, "unknown domain") {
		t.Fatalf("user add before domain: %d %q", code, e)
	}
	if code, _, e := runIn("", "domain", "add", "Example.org"); code != 0 {
		t.Fatalf("domain add: %d %q", code, e)
	}
	if code, _, e := runIn("long enough pw\n", "user", "add", "--password-stdin", "anna@example.org"); code != 0 {
		t.Fatalf("user add: %d %q", code, e)
	}
	if code, _, e := runIn("short\n", "user", "add", "--password-stdin", "bob@example.org"); code != 1 || !strings.Contains(e, "shorter") {
		t.Fatalf("weak password: %d %q", code, e)
	}
	if code, _, e := runIn("typed pw\n", "user", "add", "carl@example.org"); code != 1 || !strings.Contains(e, "--password-stdin") {
		t.Fatalf("password without a terminal or --password-stdin: %d %q", code, e)
	}
	if code, _, e := runIn("", "alias", "add", "info@example.org", "anna@example.org"); code != 0 {
		t.Fatalf("alias add: %d %q", code, e)
	}
	if code, out, _ := runIn("", "user", "list"); code != 0 || out != "anna@example.org\n" {
		t.Fatalf("user list: %d %q", code, out)
	}
	if code, out, _ := runIn("", "alias", "list"); code != 0 || out != "info@example.org: anna@example.org\n" {
		t.Fatalf("alias list: %d %q", code, out)
	}
	if code, _, e := runIn("", "domain", "del", "example.org"); code != 1 || !strings.Contains(e, "users") {
		t.Fatalf("domain del in use: %d %q", code, e)
	}
}
