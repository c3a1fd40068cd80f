// Package dovecot reads and writes the files of a Maildir++ tree exactly
// as Dovecot does, so that Postern and Dovecot can share one. It holds the
// formats only: no folder or message state and no goroutine (the one
// table it keeps is of the dotlock sources open in the process). The
// store, package postern/maildir, is built on it; this package does not
// import it.
//
// The formats, as Dovecot's documentation describes them in "Maildir
// Mailbox Format", "Maildir Configuration" (its control files and
// directory layout) and "Mailbox List" (mailbox names):
//
//   - dovecot-uidlist (UIDListFile, uidlist.go): the UID of every message
//     file, version 3, "3 V<uidvalidity> N<nextuid> G<guid>" then
//     "<uid> [W<vsize> ...] :<base>" per message; ParseUIDList,
//     SalvageUIDList for a damaged file, UIDList.Format, AppendRecord.
//   - the dotlock (dotlock.go): "<file>.lock" holding "<pid>:<host>",
//     stale after two minutes (MAILDIR_UIDLIST_LOCK_STALE_TIMEOUT in
//     Dovecot's maildir-uidlist.c) or when its process is gone; taken
//     around every change of dovecot-uidlist and dovecot-keywords
//     (TakeDotlock, LockSource).
//   - file names (filename.go): "<base>[:2,<flags>]", the base
//     "<sec>.M<usec>P<pid>Q<n>.<host>,S=<size>,W=<vsize>" (UniqueBase,
//     WithSizes, ParseFileName), and the ":2," info with its flag letters
//     (flags.go): D F R S T for \Draft \Flagged \Answered \Seen \Deleted,
//     a to z for keywords, in ASCII order (ParseInfo, FlagSet.Info).
//   - dovecot-keywords (KeywordsFile, keywords.go): "<index> <keyword>"
//     per line, index 0 being letter a, at most 26 (MAILDIR_MAX_KEYWORDS).
//   - folder names (names.go, utf7.go): the Maildir++ layout
//     (LAYOUT=Maildir++), one ".Parent.Child" directory per folder, each
//     level in modified UTF-7 (RFC 3501 5.1.3, mailbox_list_utf8 = no);
//     CheckName, DirName, FolderFromDir.
//   - line ends (crlf.go): Dovecot stores messages with bare LF; IMAP and
//     POP3 serve them with CRLF, and RFC822.SIZE counts CRLF (the W=
//     size). CRLFReader and CRLFWriter convert.
//
// The parsers never panic and are fuzzed (fuzz_test.go, seed corpora in
// testdata/fuzz); the store's tests against a real Dovecot
// (maildir/dovecot_compat_test.go) prove the files agree.
package dovecot
