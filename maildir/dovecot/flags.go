package dovecot

import (
	"slices"
	"strings"
)

// SysFlags is a set of the system flags of a message, one bit each.
type SysFlags uint8

// The system flags, with their letters in the ":2," info of a file name.
const (
	Seen     SysFlags = 1 << iota // S, IMAP \Seen
	Answered                      // R (replied), IMAP \Answered
	Flagged                       // F, IMAP \Flagged
	Deleted                       // T (trashed), IMAP \Deleted
	Draft                         // D, IMAP \Draft
)

// sysLetters maps each system flag to its Maildir info letter, in the
// order of the letters.
var sysLetters = []struct {
	bit    SysFlags
	letter byte
}{
	{Draft, 'D'},
	{Flagged, 'F'},
	{Answered, 'R'},
	{Seen, 'S'},
	{Deleted, 'T'},
}

// FlagSet is the flags of one message as its file name's info has them.
// It is comparable: equal sets compare equal.
type FlagSet struct {
	// Sys holds the system flags.
	Sys SysFlags
	// Keywords holds the keyword letters: bit i is letter 'a'+i, whose
	// keyword dovecot-keywords names (see Keywords).
	Keywords uint32
	// Other holds the other letters found in the file name (such as "P",
	// passed), in ASCII order: kept, but no IMAP flag.
	Other string
}

// ParseInfo returns the flags of a file name's info ("2,FSa"); an info
// in another version than 2, or none, has no flags.
func ParseInfo(info string) FlagSet { return parseLetters(flagLetters(info)) }

// Info returns the info of a file name with the flags fs ("2,FSa"), its
// letters in ASCII order as the Maildir specification requires.
func (fs FlagSet) Info() string { return withLetters(fs.letters()) }

// parseLetters reads the flag letters of a Maildir info.
func parseLetters(l string) FlagSet {
	var fs FlagSet
	for i := 0; i < len(l); i++ {
		c := l[i]
		switch {
		case c >= 'a' && c <= 'z':
			fs.Keywords |= 1 << (c - 'a')
			continue
		}
		found := false
		for _, f := range sysLetters {
			if f.letter == c {
				fs.Sys |= f.bit
				found = true
			}
		}
		if !found && !strings.ContainsRune(fs.Other, rune(c)) && c > ' ' && c < 0x7f {
			fs.Other += string(c)
		}
	}
	// Keep the other letters in one order, so that equal sets compare
	// equal whatever order a writer used.
	o := []byte(fs.Other)
	slices.Sort(o)
	fs.Other = string(o)
	return fs
}

// letters returns the info letters of fs, in ASCII order.
func (fs FlagSet) letters() []byte {
	b := []byte(fs.Other)
	for _, f := range sysLetters {
		if fs.Sys&f.bit != 0 {
			b = append(b, f.letter)
		}
	}
	for i := 0; i < MaxKeywords; i++ {
		if fs.Keywords&(1<<i) != 0 {
			b = append(b, byte('a'+i))
		}
	}
	return b
}
