package maildir

import (
	"strings"

	"postern/maildir/dovecot"
)

// System flags as IMAP strings (RFC 9051 2.3.2).
const (
	FlagSeen     = `\Seen`
	FlagAnswered = `\Answered`
	FlagFlagged  = `\Flagged`
	FlagDeleted  = `\Deleted`
	FlagDraft    = `\Draft`
)

// sysFlagNames names each system flag of a file name's info, in the
// order of its letter (dovecot.SysFlags has the letters).
var sysFlagNames = []struct {
	bit  dovecot.SysFlags
	name string
}{
	{dovecot.Draft, FlagDraft},
	{dovecot.Flagged, FlagFlagged},
	{dovecot.Answered, FlagAnswered},
	{dovecot.Seen, FlagSeen},
	{dovecot.Deleted, FlagDeleted},
}

// FlagOp says how SetFlags combines the given flags with a message's own.
type FlagOp int

// The flag operations of IMAP STORE (RFC 9051 6.4.6).
const (
	FlagsAdd     FlagOp = iota // +FLAGS
	FlagsRemove                // -FLAGS
	FlagsReplace               // FLAGS
)

// flagNames returns the IMAP flags of fs, system flags first, keywords
// named through kws (letters without a keyword are left out).
func flagNames(fs dovecot.FlagSet, kws *dovecot.Keywords) []string {
	var out []string
	for _, f := range sysFlagNames {
		if fs.Sys&f.bit != 0 {
			out = append(out, f.name)
		}
	}
	for i := 0; i < dovecot.MaxKeywords; i++ {
		if fs.Keywords&(1<<i) != 0 {
			if k := kws.Name(i); k != "" {
				out = append(out, k)
			}
		}
	}
	return out
}

// sysFlagByName returns the bit of a system flag name (case-insensitive),
// or 0 if the name is a keyword.
func sysFlagByName(name string) dovecot.SysFlags {
	for _, f := range sysFlagNames {
		if strings.EqualFold(f.name, name) {
			return f.bit
		}
	}
	return 0
}

// isRecentFlag reports whether name is \Recent, which cannot be stored.
func isRecentFlag(name string) bool { return strings.EqualFold(name, `\Recent`) }
