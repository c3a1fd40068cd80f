package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestIMAPReport: the table holds the median of each server's imap lines,
// the ratio, and the idle memory rows.
func TestIMAPReport(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a := filepath.Join(dir, "a.jsonl")
	b := filepath.Join(dir, "b.jsonl")
	os.WriteFile(a, []byte(`{"mode":"imap","messages":5,"median_ms":{"select":1,"body_peek":30},"server_cpu_ms":{"select":0,"body_peek":20}}
{"mode":"imap","messages":5,"median_ms":{"select":3,"body_peek":10}}
{"mode":"imap","messages":5,"median_ms":{"select":2,"body_peek":20}}
{"mode":"imap-idle","conns":10,"pss_kib_per_conn":40,"rss_kib_per_conn":50,"delta_by_command":{"postern":{"pss_kib":400}}}
`), 0o600)
	os.WriteFile(b, []byte(`{"mode":"imap","messages":5,"median_ms":{"select":4,"body_peek":10},"server_cpu_ms":{"select":0,"body_peek":40}}
{"mode":"imap-idle","conns":10,"pss_kib_per_conn":400,"rss_kib_per_conn":1000,"delta_by_command":{"imap":{"pss_kib":1000},"imap-login":{"pss_kib":3000},"log":{"pss_kib":5}}}
`), 0o600)
	var out bytes.Buffer
	if err := runIMAPReport([]string{"-a", a, "-b", b}, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| SELECT INBOX | 2.00 ms | 4.00 ms | 0.50 | 0.00 ms | 0.00 ms | – |",
		"| UID FETCH 1:* BODY.PEEK[] | 20.0 ms | 10.0 ms | 2.00 | 20.0 ms | 40.0 ms | 0.50 |",
		"| memory per IDLE connection (10 TLS, Pss) | 40.0 KiB | 400.0 KiB | 0.10 | – | – | – |",
		"| memory per IDLE connection (10 TLS, RSS) | 50.0 KiB | 1000.0 KiB | 0.05 | – | – | – |",
		"by process: Postern: postern 40.0; Dovecot: imap-login 300.0, imap 100.0\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "ENVELOPE") {
		t.Errorf("report has a row without data:\n%s", out.String())
	}
}
