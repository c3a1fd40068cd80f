package imapd

import (
	"testing"

	imap "github.com/emersion/go-imap/v2"
)

// TestCapabilitiesCoverIssue5 checks every extension issue 5 lists is
// advertised.
func TestCapabilitiesCoverIssue5(t *testing.T) {
	t.Parallel()
	caps := capabilities(DefaultConfig())
	for _, c := range []imap.Cap{
		imap.CapIMAP4rev1, imap.CapIMAP4rev2, imap.CapNamespace, imap.CapUIDPlus,
		imap.CapMove, imap.CapESearch, imap.CapSearchRes, imap.CapListExtended,
		imap.CapListStatus, imap.CapStatusSize, imap.CapChildren, imap.CapSpecialUse,
		imap.CapCreateSpecialUse, imap.CapLiteralPlus, imap.CapUnselect, imap.CapEnable,
		imap.CapIdle, imap.CapAppendLimit, imap.CapUnauthenticate,
	} {
		if !caps.Has(c) {
			t.Errorf("capability %s not advertised", c)
		}
	}
}
