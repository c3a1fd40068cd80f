package imapd

import (
	"testing"
	"time"

	imap "github.com/emersion/go-imap/v2"
)

func TestMatchSearch(t *testing.T) {
	t.Parallel()
	header := "From: Anna <anna@example.org>\r\nSubject: Lunch on Friday\r\nDate: Mon, 2 Mar 2026 10:00:00 +0100\r\n\r\n"
	body := "See you at the Café at noon.\r\n"
	m := &searchMsg{
		Seq: 2, UID: 40,
		Flags:  []imap.Flag{imap.FlagSeen, "$Work"},
		Date:   time.Date(2026, 3, 3, 23, 30, 0, 0, time.UTC),
		Size:   int64(len(header) + len(body)),
		Header: func() ([]byte, error) { return []byte(header), nil },
		Text:   func() ([]byte, error) { return []byte(header + body), nil },
	}
	b := searchBounds{MaxSeq: 5, MaxUID: 90}
	day := func(d int) time.Time { return time.Date(2026, 3, d, 0, 0, 0, 0, time.UTC) }
	tests := []struct {
		name string
		c    imap.SearchCriteria
		want bool
	}{
		{"ALL", imap.SearchCriteria{}, true},
		{"SEEN", imap.SearchCriteria{Flag: []imap.Flag{imap.FlagSeen}}, true},
		{"UNSEEN", imap.SearchCriteria{NotFlag: []imap.Flag{imap.FlagSeen}}, false},
		{"KEYWORD $work (case-insensitive)", imap.SearchCriteria{Flag: []imap.Flag{"$WORK"}}, true},
		{"FLAGGED", imap.SearchCriteria{Flag: []imap.Flag{imap.FlagFlagged}}, false},
		{"SINCE same day", imap.SearchCriteria{Since: day(3)}, true},
		{"SINCE next day", imap.SearchCriteria{Since: day(4)}, false},
		{"BEFORE same day", imap.SearchCriteria{Before: day(3)}, false},
		{"BEFORE next day", imap.SearchCriteria{Before: day(4)}, true},
		{"SENTSINCE 2 Mar", imap.SearchCriteria{SentSince: day(2)}, true},
		{"SENTBEFORE 2 Mar", imap.SearchCriteria{SentBefore: day(2)}, false},
		{"LARGER 10", imap.SearchCriteria{Larger: 10}, true},
		{"LARGER size", imap.SearchCriteria{Larger: m.Size}, false},
		{"SMALLER size+1", imap.SearchCriteria{Smaller: m.Size + 1}, true},
		{"HEADER subject friday", imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "subject", Value: "FRIDAY"}}}, true},
		{"HEADER cc absent", imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Cc", Value: ""}}}, false},
		{"BODY café", imap.SearchCriteria{Body: []string{"café"}}, true},
		{"BODY not in header", imap.SearchCriteria{Body: []string{"Lunch"}}, false},
		{"TEXT in header", imap.SearchCriteria{Text: []string{"lunch"}}, true},
		{"seq 1:3", imap.SearchCriteria{SeqNum: []imap.SeqSet{{{Start: 1, Stop: 3}}}}, true},
		{"seq *", imap.SearchCriteria{SeqNum: []imap.SeqSet{{{Start: 0, Stop: 0}}}}, false},
		{"UID 41:*", imap.SearchCriteria{UID: []imap.UIDSet{{{Start: 41, Stop: 0}}}}, false},
		{"UID *:40 (reversed range)", imap.SearchCriteria{UID: []imap.UIDSet{{{Start: 0, Stop: 40}}}}, true},
		{"NOT SEEN", imap.SearchCriteria{Not: []imap.SearchCriteria{{Flag: []imap.Flag{imap.FlagSeen}}}}, false},
		{"OR FLAGGED SEEN", imap.SearchCriteria{Or: [][2]imap.SearchCriteria{{{Flag: []imap.Flag{imap.FlagFlagged}}, {Flag: []imap.Flag{imap.FlagSeen}}}}}, true},
		{"OR FLAGGED DRAFT", imap.SearchCriteria{Or: [][2]imap.SearchCriteria{{{Flag: []imap.Flag{imap.FlagFlagged}}, {Flag: []imap.Flag{imap.FlagDraft}}}}}, false},
	}
	for _, tt := range tests {
		got, err := matchSearch(m, &tt.c, b)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got != tt.want {
			t.Errorf("SEARCH %s = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestMatchSearchMalformedHeader: a header the parser refuses matches no
// header criterion and does not fail the search.
func TestMatchSearchMalformedHeader(t *testing.T) {
	t.Parallel()
	m := &searchMsg{Seq: 1, UID: 1,
		Header: func() ([]byte, error) { return []byte("no colon here\r\n\r\n"), nil },
		Text:   func() ([]byte, error) { return []byte("no colon here\r\n\r\n"), nil },
	}
	c := imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: "x"}}}
	if ok, err := matchSearch(m, &c, searchBounds{MaxSeq: 1, MaxUID: 1}); ok || err != nil {
		t.Fatalf("matchSearch = %v, %v; want false, nil", ok, err)
	}
}
