package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"postern/smtpd/queue"
)

// "postern queue list" shows each recipient of each queued message;
// "flush" and "drop" leave requests for the running server and refuse
// unknown ids.
func TestQueueCommands(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	var out, errb bytes.Buffer
	env := &cmdEnv{stdout: &out, stderr: &errb}
	if code := run(env, []string{"queue", "list", "-data", data}); code != 0 || !strings.Contains(out.String(), "queue is empty") {
		t.Fatalf("empty list: exit %d, %q %q", code, out.String(), errb.String())
	}
	q, err := queue.Open(data, queue.DefaultConfig(), queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	id, err := q.Enqueue(context.Background(), "anna@example.org", []string{"bob@example.net", "carol@example.com"},
		strings.NewReader("From: anna@example.org\r\nSubject: hi\r\n\r\nhi\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if code := run(env, []string{"queue", "list", "-data", data}); code != 0 {
		t.Fatalf("list: exit %d, %q", code, errb.String())
	}
	for _, want := range []string{"ID", "LAST ERROR", id, "anna@example.org", "bob@example.net", "carol@example.com", "pending", "1 message(s)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("list lacks %q:\n%s", want, out.String())
		}
	}

	// A damaged envelope is reported without hiding the others.
	os.WriteFile(filepath.Join(data, "queue", "zzzz.json"), []byte("{not json"), 0o600)
	out.Reset()
	errb.Reset()
	if code := run(env, []string{"queue", "list", "-data", data}); code != 1 || !strings.Contains(out.String(), id) || !strings.Contains(errb.String(), "zzzz") {
		t.Fatalf("list with a damaged envelope: exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	os.Remove(filepath.Join(data, "queue", "zzzz.json"))

	out.Reset()
	if code := run(env, []string{"queue", "flush", id, "-data", data}); code != 0 {
		t.Fatalf("flush: exit %d, %q", code, errb.String())
	}
	if code := run(env, []string{"queue", "drop", "-data", data, id}); code != 0 {
		t.Fatalf("drop: exit %d, %q", code, errb.String())
	}
	for _, f := range []string{"flush-" + id, "drop-" + id} {
		if _, err := os.Stat(filepath.Join(data, "queue", "control", f)); err != nil {
			t.Errorf("request %s not left: %v", f, err)
		}
	}
	errb.Reset()
	if code := run(env, []string{"queue", "drop", "nosuch", "-data", data}); code != 1 || !strings.Contains(errb.String(), "no message nosuch") {
		t.Fatalf("drop unknown: exit %d, %q", code, errb.String())
	}
	if code := run(env, []string{"queue", "drop", "-data", data}); code != 2 {
		t.Fatalf("drop without id: exit %d", code)
	}
}
