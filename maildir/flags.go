package maildir

import (
	"slices"
	"strings"
)

// System flags as IMAP strings (RFC 9051 2.3.2).
const (
	FlagSeen     = `\Seen`
	FlagAnswered = `\Answered`
	FlagFlagged  = `\Flagged`
	FlagDeleted  = `\Deleted`
	FlagDraft    = `\Draft`
)

// sysFlag is one bit of the system flags a message carries.
type sysFlag uint8

const (
	sysSeen sysFlag = 1 << iota
	sysAnswered
	sysFlagged
	sysDeleted
	sysDraft
)

// sysFlags maps each system flag to its Maildir info letter.
var sysFlags = []struct {
	bit    sysFlag
	name   string
	letter byte
}{
	{sysDraft, FlagDraft, 'D'},
	{sysFlagged, FlagFlagged, 'F'},
	{sysAnswered, FlagAnswered, 'R'},
	{sysSeen, FlagSeen, 'S'},
	{sysDeleted, FlagDeleted, 'T'},
}

// FlagOp says how SetFlags combines the given flags with a message's own.
type FlagOp int

// The flag operations of IMAP STORE (RFC 9051 6.4.6).
const (
	FlagsAdd     FlagOp = iota // +FLAGS
	FlagsRemove                // -FLAGS
	FlagsReplace               // FLAGS
)

// flagSet is the flags of one message: system flag bits, keyword letter
// bits (a = bit 0) and other letters found in the file name (such as "P")
// that Postern keeps but does not show.
type flagSet struct {
	sys   sysFlag
	kw    uint32
	other string
}

// parseLetters reads the flag letters of a Maildir info.
func parseLetters(l string) flagSet {
	var fs flagSet
	for i := 0; i < len(l); i++ {
		c := l[i]
		switch {
		case c >= 'a' && c <= 'z':
			fs.kw |= 1 << (c - 'a')
			continue
		}
		found := false
		for _, f := range sysFlags {
			if f.letter == c {
				fs.sys |= f.bit
				found = true
			}
		}
		if !found && !strings.ContainsRune(fs.other, rune(c)) && c > ' ' && c < 0x7f {
			fs.other += string(c)
		}
	}
	// Keep the other letters in one order, so that equal sets compare
	// equal whatever order a writer used.
	o := []byte(fs.other)
	slices.Sort(o)
	fs.other = string(o)
	return fs
}

// letters returns the info letters of fs, in ASCII order.
func (fs flagSet) letters() []byte {
	b := []byte(fs.other)
	for _, f := range sysFlags {
		if fs.sys&f.bit != 0 {
			b = append(b, f.letter)
		}
	}
	for i := 0; i < 26; i++ {
		if fs.kw&(1<<i) != 0 {
			b = append(b, byte('a'+i))
		}
	}
	return b
}

// names returns the IMAP flags of fs, system flags first, keywords named
// through kws (letters without a keyword are left out).
func (fs flagSet) names(kws *keywords) []string {
	var out []string
	for _, f := range sysFlags {
		if fs.sys&f.bit != 0 {
			out = append(out, f.name)
		}
	}
	for i := 0; i < 26; i++ {
		if fs.kw&(1<<i) != 0 {
			if k := kws.name(i); k != "" {
				out = append(out, k)
			}
		}
	}
	return out
}

// sysFlagByName returns the bit of a system flag name (case-insensitive),
// or 0 if the name is a keyword.
func sysFlagByName(name string) sysFlag {
	for _, f := range sysFlags {
		if strings.EqualFold(f.name, name) {
			return f.bit
		}
	}
	return 0
}

// isRecentFlag reports whether name is \Recent, which cannot be stored.
func isRecentFlag(name string) bool { return strings.EqualFold(name, `\Recent`) }
