package imapd

import imap "github.com/emersion/go-imap/v2"

// capabilities is the set the server advertises. IMAP4rev2 implies
// NAMESPACE, UIDPLUS, ESEARCH, SEARCHRES, LIST-EXTENDED, LIST-STATUS, MOVE,
// STATUS=SIZE, ENABLE, IDLE, UNSELECT, LITERAL-, CHILDREN and SASL-IR in
// go-imap v2 beta.8, and requires the session to implement
// imapserver.SessionIMAP4rev2 (notes/libraries.md §1). APPENDLIMIT is
// derived by the library from the session's AppendLimit method; STARTTLS
// and LOGINDISABLED from the connection's TLS state. The Config argument
// is kept so a tunable can switch an extension off later.
func capabilities(Config) imap.CapSet {
	return imap.CapSet{
		imap.CapIMAP4rev1:        {},
		imap.CapIMAP4rev2:        {},
		imap.CapSpecialUse:       {},
		imap.CapCreateSpecialUse: {},
		imap.CapLiteralPlus:      {},
		imap.CapAppendLimit:      {},
		imap.CapUnauthenticate:   {},
		imap.CapNamespace:        {},
		imap.CapUIDPlus:          {},
		imap.CapMove:             {},
		imap.CapESearch:          {},
		imap.CapSearchRes:        {},
		imap.CapListExtended:     {},
		imap.CapListStatus:       {},
		imap.CapStatusSize:       {},
		imap.CapChildren:         {},
		imap.CapUnselect:         {},
		imap.CapEnable:           {},
		imap.CapIdle:             {},
	}
}
