package imapd

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	imap "github.com/emersion/go-imap/v2"

	"postern/accounts/testkit"
)

// fillInbox writes n messages of about 2 KiB straight into user's
// INBOX/new and rescans, as another program's delivery would (fast: no
// fsync per message).
func fillInbox(t testing.TB, e *testEnv, user string, n int) {
	t.Helper()
	f := e.folder(user, "INBOX")
	local, _, _ := strings.Cut(user, "@")
	dir := filepath.Join(e.dir, "mail", testkit.Domain, local, "new")
	body := strings.Repeat("Lorem ipsum dolor sit amet, consectetur adipiscing elit.\r\n", 30)
	for i := range n {
		m := msg(fmt.Sprintf("filler %d", i), body)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("1700000000.M%dP1.fill", i)), []byte(m), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Rescan(); err != nil {
		t.Fatal(err)
	}
}

// nested returns a program of depth NOTs (or ORs, whose second key is
// SEEN) around inner.
func nested(op string, depth int, inner string) string {
	if op == "OR" {
		return strings.Repeat("OR ", depth) + inner + strings.Repeat(" SEEN", depth)
	}
	return strings.Repeat(op+" ", depth) + inner
}

func TestCheckSearchProgram(t *testing.T) {
	t.Parallel()
	notChain := func(depth int) *imap.SearchCriteria {
		c := &imap.SearchCriteria{}
		for range depth {
			c = &imap.SearchCriteria{Not: []imap.SearchCriteria{*c}}
		}
		return c
	}
	orChain := func(depth int) *imap.SearchCriteria {
		c := &imap.SearchCriteria{Flag: []imap.Flag{imap.FlagSeen}}
		for range depth {
			c = &imap.SearchCriteria{Or: [][2]imap.SearchCriteria{{{Text: []string{"x"}}, *c}}}
		}
		return c
	}
	flags := func(n int) *imap.SearchCriteria {
		return &imap.SearchCriteria{Flag: make([]imap.Flag, n)}
	}
	day := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		c    *imap.SearchCriteria
		want string // "" = accepted
	}{
		{"ALL", &imap.SearchCriteria{}, ""},
		{"NOT at the depth bound", notChain(MaxSearchDepth), ""},
		{"NOT one deeper", notChain(MaxSearchDepth + 1), "too deep"},
		{"10,000 NOTs", notChain(10_000), "too deep"},
		{"OR chain at the bound", orChain(MaxSearchDepth), ""},
		{"OR chain one deeper", orChain(MaxSearchDepth + 1), "too deep"},
		{"keys at the bound", flags(MaxSearchKeys), ""},
		{"one key more", flags(MaxSearchKeys + 1), "too large"},
		{"dates and sizes count", &imap.SearchCriteria{Flag: make([]imap.Flag, MaxSearchKeys-3), Since: day, Before: day, Larger: 1}, ""},
		{"dates and sizes count, one over", &imap.SearchCriteria{Flag: make([]imap.Flag, MaxSearchKeys-3), Since: day, Before: day, Larger: 1, Smaller: 9}, "too large"},
		{"keys under NOTs count", &imap.SearchCriteria{Not: []imap.SearchCriteria{*flags(MaxSearchKeys)}}, "too large"},
	} {
		err := checkSearchProgram(tc.c)
		got := ""
		if err != nil {
			got = err.Error()
			if e, ok := err.(*imap.Error); !ok || e.Type != imap.StatusResponseTypeNo || e.Code != imap.ResponseCodeLimit {
				t.Errorf("%s: %#v, want NO [LIMIT]", tc.name, err)
			}
		}
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%s: checkSearchProgram = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestSearchBombRefusedAtOnce: the attacker's "SEARCH NOT NOT … ALL"
// (10,000 NOTs, 40 KB) took 6 s on a 16,000-message INBOX; it is now
// refused before any message is looked at, and programs at the bounds
// are served. (The time limit is the raw client's 5 s read deadline: it
// guards against a hang, not for speed; BenchmarkSearchCost measures.)
func TestSearchBombRefusedAtOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	fillInbox(t, e, testkit.AnnaUser, 2000)
	r := e.raw(t)
	r.login(testkit.AnnaUser, testkit.AnnaPass)
	r.cmd("s0 SELECT INBOX")

	start := time.Now()
	out := r.cmd("s1 SEARCH " + nested("NOT", 10_000, "ALL"))
	t.Logf("10,000 NOTs answered in %v", time.Since(start))
	if !strings.HasPrefix(out, "s1 NO [LIMIT] Search program too deep") {
		t.Fatalf("bomb: %q", out)
	}
	for _, tc := range []struct{ cmd, want string }{
		{"s2 SEARCH " + nested("NOT", MaxSearchDepth, "ALL"), "s2 OK"},
		{"s3 SEARCH " + nested("NOT", MaxSearchDepth+1, "ALL"), "s3 NO [LIMIT] Search program too deep"},
		{"s4 SEARCH " + nested("OR", MaxSearchDepth, "UNSEEN"), "s4 OK"},
		{"s5 SEARCH " + nested("OR", MaxSearchDepth+1, "UNSEEN"), "s5 NO [LIMIT] Search program too deep"},
		{"s6 SEARCH" + strings.Repeat(" UNSEEN", MaxSearchKeys), "s6 OK"},
		{"s7 SEARCH" + strings.Repeat(" UNSEEN", MaxSearchKeys+1), "s7 NO [LIMIT] Search program too large"},
		{"s8 NOOP", "s8 OK"},
	} {
		out := r.cmd(tc.cmd)
		if last := out[strings.LastIndex(strings.TrimSuffix(out, "\r\n"), "\n")+1:]; !strings.HasPrefix(last, tc.want) {
			t.Errorf("%.40s…: %q, want %q", tc.cmd, last, tc.want)
		}
	}
}
