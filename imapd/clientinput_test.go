package imapd

import (
	"fmt"
	"strings"
	"testing"

	"postern/accounts/testkit"
)

// keywordList returns "(k0 k1 …)" with n keywords named prefix+i.
func keywordList(prefix string, n int) string {
	kws := make([]string, n)
	for i := range kws {
		kws[i] = fmt.Sprintf("%s%d", prefix, i)
	}
	return "(" + strings.Join(kws, " ") + ")"
}

// TestKeywordLimits: STORE and APPEND of more keywords than a message
// can carry get NO [LIMIT] naming keywords (they got "Mailbox name not
// allowed"), a 27th keyword in a mailbox gets NO [LIMIT] too, an unknown
// system flag NO [CANNOT]; the session stays usable throughout.
func TestKeywordLimits(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	e.put(testkit.AnnaUser, "INBOX", msg("one", "1"), msg("two", "2"))
	r := e.raw(t)
	r.login(testkit.AnnaUser, testkit.AnnaPass)
	r.cmd("a SELECT INBOX")
	for _, tc := range []struct{ cmd, want string }{
		{"b STORE 1 +FLAGS " + keywordList("$k", 2000), "b NO [LIMIT] Too many keywords: a message can carry at most 26"},
		{"c NOOP", "c OK"},
		{"d STORE 1 FLAGS " + keywordList("$k", MaxKeywords+1), "d NO [LIMIT] Too many keywords"},
		{"e STORE 1 -FLAGS " + keywordList("$k", 2000), "e NO [LIMIT] Too many keywords"},
		{"f STORE 1 +FLAGS " + keywordList("$k", MaxKeywords), "f OK"},
		{"g STORE 2 +FLAGS ($another)", "g NO [LIMIT] No room for a new keyword: this mailbox already has 26"},
		{"h STORE 2 +FLAGS ($k3 \\Flagged)", "h OK"},
		{`i STORE 2 +FLAGS (\Bogus)`, `i NO [CANNOT] Unknown system flag`},
		{"j STORE 2 +FLAGS (" + strings.Repeat("k", 201) + ")", "j NO [CANNOT] Keyword not allowed"},
		{"k NOOP", "k OK"},
	} {
		if last := lastLine(r.cmd(tc.cmd)); !strings.HasPrefix(last, tc.want) {
			t.Errorf("%.50s: %q, want %q", tc.cmd, last, tc.want)
		}
	}
	flags := keywordList("$a", MaxKeywords+1)
	r.send(fmt.Sprintf("l APPEND INBOX %s {3+}\r\nx\r\n", flags))
	if last := lastLine(r.until("l ")); !strings.HasPrefix(last, "l NO [LIMIT] Too many keywords") {
		t.Errorf("APPEND with %d keywords: %q", MaxKeywords+1, last)
	}
	if last := lastLine(r.cmd("m NOOP")); !strings.HasPrefix(last, "m OK") {
		t.Errorf("NOOP after APPEND: %q", last)
	}
}

// TestLargeUIDSetServed: a UID set of 9,000 ranges, about the most
// distinct ranges go-imap's 50 KiB command line can carry, is served by
// FETCH, SEARCH and STORE (sets are indexed, not scanned per message),
// and the session goes on.
func TestLargeUIDSetServed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	fillInbox(t, e, testkit.AnnaUser, 2000)
	var set strings.Builder
	for i := range 9000 {
		if i > 0 {
			set.WriteByte(',')
		}
		fmt.Fprint(&set, 2*i+1) // 1,3,5,…: no two ranges merge
	}
	r := e.raw(t)
	r.login(testkit.AnnaUser, testkit.AnnaPass)
	r.cmd("a SELECT INBOX")
	out := r.cmd("b UID FETCH " + set.String() + " (FLAGS)")
	if n := strings.Count(out, " FETCH ("); n != 1000 || !strings.HasPrefix(lastLine(out), "b OK") {
		t.Fatalf("UID FETCH: %d responses, %q", n, lastLine(out))
	}
	out = r.cmd("c UID SEARCH UID " + set.String() + " UNSEEN")
	if !strings.HasPrefix(lastLine(out), "c OK") || strings.Count(out, " ") < 1000 {
		t.Fatalf("UID SEARCH: %.200q", out)
	}
	if last := lastLine(r.cmd("d UID STORE " + set.String() + ` +FLAGS.SILENT (\Flagged)`)); !strings.HasPrefix(last, "d OK") {
		t.Fatalf("UID STORE: %q", last)
	}
	out = r.cmd("e SEARCH RETURN (COUNT) FLAGGED")
	if !strings.Contains(out, "COUNT 1000") {
		t.Fatalf("flagged after UID STORE: %q", out)
	}
}

// TestLibraryRefusalsKeepSession pins what go-imap beta.8 does with
// input it refuses before imapd sees the command (the reply code is
// its [SERVERBUG], which only Postern's own engine, issue 19, can
// change): an invalid UTF-8 or modified-UTF-7 mailbox name and SEARCH
// parentheses nested beyond its 1,000 levels get a tagged NO, and the
// session stays usable.
func TestLibraryRefusalsKeepSession(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	r := e.raw(t)
	r.login(testkit.AnnaUser, testkit.AnnaPass)
	r.cmd("a SELECT INBOX")
	for _, cmd := range []string{
		"b SELECT \"a\xffb\"",
		"c CREATE \"&Jjo\"",
		"d SEARCH " + strings.Repeat("(", 1001) + "ALL" + strings.Repeat(")", 1001),
	} {
		tag := strings.Fields(cmd)[0]
		if last := lastLine(r.cmd(cmd)); !strings.HasPrefix(last, tag+" NO ") {
			t.Errorf("%.30q: %q, want a tagged NO", cmd, last)
		}
		if last := lastLine(r.cmd("n NOOP")); !strings.HasPrefix(last, "n OK") {
			t.Fatalf("NOOP after %.30q: %q", cmd, last)
		}
	}
}
