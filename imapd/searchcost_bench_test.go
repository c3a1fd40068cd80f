package imapd

import (
	"strings"
	"testing"

	"postern/accounts/testkit"
)

// BenchmarkSearchCost measures SEARCH over a 10,000-message INBOX (about
// 2 KiB each): the attacker's 10,000-NOT program (refused now; what is
// left is go-imap parsing it), one TEXT key, and the heaviest program
// still accepted (64 nested ORs of TEXT keys that match nothing). Run
// with -benchmem: the allocations include the client's.
func BenchmarkSearchCost(b *testing.B) {
	e := newBenchEnv(b)
	r := e.raw(b)
	r.login(testkit.AnnaUser, testkit.AnnaPass)
	r.cmd("a SELECT INBOX")
	for _, bc := range []struct{ name, cmd, want string }{
		{"bomb-10000-NOT", "s SEARCH " + nested("NOT", 10_000, "ALL"), "s NO [LIMIT]"},
		{"TEXT", "s SEARCH TEXT nowhere", "s OK"},
		{"heaviest-accepted", "s SEARCH " + strings.Repeat("OR TEXT nowhere ", MaxSearchDepth) + "TEXT nowhere TEXT nowhere", "s OK"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if out := lastLine(r.cmd(bc.cmd)); !strings.HasPrefix(out, bc.want) {
					b.Fatalf("%q", out)
				}
			}
		})
	}
}
