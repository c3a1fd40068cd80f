package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"postern/accounts/testkit"
	"postern/smtpd/queue/postfixtest"
)

// The queue mode drives a real relay end to end: Postfix on loopback takes
// 40 submissions over STARTTLS and relays them to the mode's own sink,
// which sees every one arrive.
func TestQueueModeThroughPostfix(t *testing.T) {
	t.Parallel()
	// The queue mode binds its sink itself and Postfix must know the
	// address first: a port that was free a moment ago.
	sinkAddr := testkit.FreeAddr(t)
	pf := postfixtest.Start(t, postfixtest.Options{RelayTo: sinkAddr})
	var out bytes.Buffer
	err := runQueue([]string{"-addr", pf.Addr, "-insecure", "-from", "bench@sender.test", "-n", "40", "-c", "4",
		"-size", "4096", "-domains", "10", "-sink", sinkAddr, "-dns", "", "-runs", "1", "-timeout", "60s"}, &out)
	if err != nil {
		t.Fatalf("%v\n%s\npostfix log:\n%s", err, out.String(), pf.Log())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("output:\n%s", out.String())
	}
	var r queueResult
	if err := json.Unmarshal([]byte(lines[0]), &r); err != nil {
		t.Fatal(err)
	}
	if r.Submit.Count != 40 || r.Arrival.Count != 40 || r.Arrival.Errors != 0 || r.Arrival.PerSec <= 0 {
		t.Fatalf("result: %+v", r)
	}
	var m queueMedian
	if err := json.Unmarshal([]byte(lines[1]), &m); err != nil || m.Runs != 1 || m.ArrivalPerSec <= 0 {
		t.Fatalf("median line %q: %v", lines[1], err)
	}
}

func TestBenchBodySize(t *testing.T) {
	t.Parallel()
	b := benchBody("a@b.test", "c@d.test", "r1-1-0", 4096)
	if len(b) > 4096 || len(b) < 4096-80 || !bytes.Contains(b, []byte("\r\nX-Mailbench-ID: r1-1-0\r\n")) {
		t.Fatalf("body of %d bytes:\n%.300s", len(b), b)
	}
}
