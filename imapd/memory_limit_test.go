package imapd

import (
	"strings"
	"testing"

	"postern/accounts/testkit"
)

// bigMsg is a message of about n bytes.
func bigMsg(subject string, n int) string {
	line := "The quick brown fox jumps over the lazy dog, again and again.\r\n"
	return msg(subject, strings.Repeat(line, n/len(line)))
}

// TestCommandMemoryBound: a command that would hold more message data
// than max_command_memory gets NO [LIMIT] (sections of one large
// message; a TEXT search of a message over the bound) and the session
// stays usable; a whole BODY[] is streamed and needs no memory; what
// commands held is all given back.
func TestCommandMemoryBound(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{MaxCommandMemory: MinCommandMemory, MaxTotalCommandMemory: 8 * MinCommandMemory})
	e.put(testkit.AnnaUser, "INBOX", bigMsg("medium", 400<<10), bigMsg("large", 1500<<10))
	r := e.raw(t)
	r.login(testkit.AnnaUser, testkit.AnnaPass)
	r.cmd("a SELECT INBOX")
	for _, tc := range []struct{ cmd, want string }{
		// 400 KiB: the file and one section fit in 1 MiB.
		{"b FETCH 1 (BODYSTRUCTURE BODY.PEEK[TEXT])", "b OK"},
		// The file and three copies of it do not.
		{"c FETCH 1 (BODY.PEEK[TEXT] BODY.PEEK[1] BODY.PEEK[TEXT]<0.100000>)", "c NO [LIMIT] Command needs more than 1 MiB of message data at once"},
		{"d NOOP", "d OK"},
		// Streamed, whatever its size.
		{"e FETCH 2 (BODY.PEEK[])", "e OK"},
		{"f SEARCH TEXT fox", "f NO [LIMIT] Command needs more than 1 MiB"},
		{"g SEARCH 1 TEXT fox", "g OK"},
		{"h NOOP", "h OK"},
	} {
		out := r.cmd(tc.cmd)
		if last := lastLine(out); !strings.HasPrefix(last, tc.want) {
			t.Errorf("%s: %q, want %q", tc.cmd, last, tc.want)
		}
	}
	if used := e.srv.costs().mem.used.Load(); used != 0 {
		t.Fatalf("%d bytes still accounted after the commands", used)
	}
}

// TestServerMemoryBudget: when commands together hold the server's
// budget, one more gets NO [LIMIT] at once; freed, it runs.
func TestServerMemoryBudget(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{MaxCommandMemory: 4 * MinCommandMemory, MaxTotalCommandMemory: 4 * MinCommandMemory})
	e.put(testkit.AnnaUser, "INBOX", bigMsg("medium", 400<<10))
	r := e.raw(t)
	r.login(testkit.AnnaUser, testkit.AnnaPass)
	r.cmd("a SELECT INBOX")
	budget := e.srv.costs().mem
	if !budget.take(4*MinCommandMemory - 100<<10) {
		t.Fatal("taking the budget")
	}
	if out := lastLine(r.cmd("b FETCH 1 (BODYSTRUCTURE)")); !strings.HasPrefix(out, "b NO [LIMIT] Server memory for message data is in use, try again later") {
		t.Fatalf("FETCH over the server budget: %q", out)
	}
	budget.give(4*MinCommandMemory - 100<<10)
	if out := lastLine(r.cmd("c FETCH 1 (BODYSTRUCTURE)")); !strings.HasPrefix(out, "c OK") {
		t.Fatalf("FETCH with the budget free: %q", out)
	}
	if used := budget.used.Load(); used != 0 {
		t.Fatalf("%d bytes still accounted", used)
	}
}

// lastLine returns the last line of a reply (the tagged one).
func lastLine(out string) string {
	out = strings.TrimSuffix(out, "\r\n")
	return out[strings.LastIndex(out, "\n")+1:]
}
