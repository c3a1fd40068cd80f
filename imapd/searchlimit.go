package imapd

import (
	"fmt"

	imap "github.com/emersion/go-imap/v2"
)

// Bounds on a SEARCH program, checked before any message is looked at.
// SEARCH costs (keys × messages); without a bound, "SEARCH NOT NOT …
// ALL" with 10,000 NOTs (40 KB, under the library's 50 KiB line limit)
// took 6 s of CPU on a 16,000-message INBOX.
const (
	// MaxSearchDepth bounds the nesting of NOT and OR. OR takes two
	// keys, so a client asks for "any of n" as n-1 nested ORs: a saved
	// search for one of 40 senders nests 39 deep. Clients send a few
	// levels (Thunderbird's quick filter 3, Roundcube's header search up
	// to 5); 64 leaves room for long "any of" lists while keeping every
	// recursive walk of the program shallow. Parentheses do not count:
	// they only group keys that are ANDed anyway.
	MaxSearchDepth = 64
	// MaxSearchKeys bounds the keys of a program in total (each flag,
	// date, size, header, BODY or TEXT string, sequence or UID set, NOT
	// and OR counts one): at most this many tests per message. Real
	// searches have a handful; 1,000 is far above any client's.
	MaxSearchKeys = 1000
)

// errSearchTooComplex is the answer to a program over the bounds.
func errSearchTooComplex(what string) error {
	return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeLimit, Text: what}
}

// checkSearchProgram refuses a program deeper than MaxSearchDepth or
// with more than MaxSearchKeys keys. It stops walking at the first bound
// crossed, so its own recursion is at most MaxSearchDepth+1 deep whatever
// the client sent.
func checkSearchProgram(c *imap.SearchCriteria) error {
	keys := 0
	var walk func(c *imap.SearchCriteria, depth int) error
	walk = func(c *imap.SearchCriteria, depth int) error {
		if depth > MaxSearchDepth {
			return errSearchTooComplex(fmt.Sprintf("Search program too deep: at most %d nested NOT or OR", MaxSearchDepth))
		}
		keys += len(c.SeqNum) + len(c.UID) + len(c.Flag) + len(c.NotFlag) +
			len(c.Header) + len(c.Body) + len(c.Text) + len(c.Not) + len(c.Or)
		for _, set := range []bool{
			!c.Since.IsZero(), !c.Before.IsZero(), !c.SentSince.IsZero(), !c.SentBefore.IsZero(),
			c.Larger > 0, c.Smaller > 0, c.ModSeq != nil,
		} {
			if set {
				keys++
			}
		}
		if keys > MaxSearchKeys {
			return errSearchTooComplex(fmt.Sprintf("Search program too large: at most %d keys", MaxSearchKeys))
		}
		for i := range c.Not {
			if err := walk(&c.Not[i], depth+1); err != nil {
				return err
			}
		}
		for i := range c.Or {
			for j := range c.Or[i] {
				if err := walk(&c.Or[i][j], depth+1); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return walk(c, 0)
}
