package accounts

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

// Login lines go through the session logger the front end passes, so
// they carry its session id, remote address and protocol once each.
func TestAuthenticateLogsThroughSessionLogger(t *testing.T) {
	d := openTest(t, &fakeClock{})
	var buf bytes.Buffer
	sess := slog.New(slog.NewJSONHandler(&buf, nil)).With("proto", "imap", "session", "s42", "remote", "192.0.2.7:4000")
	ctx := WithLogger(context.Background(), sess)
	if _, err := d.Authenticate(ctx, "imap", "192.0.2.7:4000", "anna@example.org", "wrong-password"); err == nil {
		t.Fatal("wrong password accepted")
	}
	if _, err := d.Authenticate(ctx, "imap", "192.0.2.7:4000", "anna@example.org", "s3cret-pass"); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d log lines: %q", len(lines), buf.String())
	}
	for _, line := range lines {
		for _, key := range []string{`"proto":`, `"session":`, `"remote":`, `"user":`} {
			if n := strings.Count(line, key); n != 1 {
				t.Errorf("%s appears %d times in %s", key, n, line)
			}
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatal(err)
		}
		if rec["session"] != "s42" || rec["user"] != "anna@example.org" {
			t.Errorf("line %s", line)
		}
	}
}
