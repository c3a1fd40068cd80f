package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"

	"postern/imapd"
	"postern/pop3d"
	"postern/smtpd"
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
	for _, c := range commands {
		if !strings.Contains(out.String(), "  "+c.name+" ") {
			t.Errorf("help output lacks %s: %q", c.name, out.String())
		}
	}
}

// A listener's end is told from a failure by the errors' identity, not
// their text.
func TestIsClosedErr(t *testing.T) {
	for _, err := range []error{smtpd.ErrServerClosed, imapd.ErrServerClosed, pop3d.ErrServerClosed,
		errors.Join(errors.New("smtpd: accept"), net.ErrClosed), fmt.Errorf("serve: %w", pop3d.ErrServerClosed)} {
		if !isClosedErr(err) {
			t.Errorf("isClosedErr(%v) = false", err)
		}
	}
	if isClosedErr(errors.New("accept: connection closed by peer")) {
		t.Error("an error that only says closed counts as the listener's end")
	}
}
