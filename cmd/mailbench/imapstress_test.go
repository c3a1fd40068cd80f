package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"log"
	"strings"
	"testing"
	"time"

	imap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"

	"postern/accounts/testkit"
	"postern/maildir/dovecottest"
)

// stressCommands are the commands of imap-stress's mix against a server
// with UIDPLUS and MOVE, as the result names them.
var stressCommands = []string{"LOGIN", "SELECT", "EXAMINE", "FETCH", "STORE", "EXPUNGE", "UID EXPUNGE",
	"APPEND", "COPY", "MOVE", "IDLE", "NOOP", "LOGOUT"}

// TestIMAPStressAgainstDovecot: four clients of imap-stress share one
// user's INBOX and Stress (created by the run) on a real Dovecot for a few
// seconds, with sessions kept and with a logout after every few commands:
// no inconsistency, no hang, no error, and every command of the mix sent.
func TestIMAPStressAgainstDovecot(t *testing.T) {
	t.Parallel()
	d := dovecottest.Start(t, dovecottest.Options{})
	if _, err := writeMaildirForTest(d.Maildir("bob@example.org"), 30); err != nil {
		t.Fatal(err)
	}
	d.Chown()
	for _, tc := range []struct {
		name, logout, duration string
	}{
		{"sessions kept", "0", "4s"},
		// Dovecot's logins take 0.1-0.3 s: about one command of the mix
		// per session, so the run is longer.
		{"logout every 3", "3", "10s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := runIMAPStress([]string{"-addr", d.IMAPAddr, "-user", "bob@example.org", "-pass", d.Password,
				"-clients", "4", "-duration", tc.duration, "-idle", "300ms", "-hang", "10s", "-seed", "7",
				"-logout-every", tc.logout, "-max-messages", "60"}, &out)
			var res imapStressResult
			if jerr := json.Unmarshal(out.Bytes(), &res); jerr != nil {
				t.Fatalf("result %q: %v (run: %v)", out.String(), jerr, err)
			}
			if err != nil || res.Inconsistencies != 0 || res.Hangs != 0 || res.Errors != 0 {
				t.Errorf("run: %v\n%s\n%s", err, out.String(), d.Log())
			}
			for _, name := range stressCommands {
				if res.Commands[name].Count == 0 {
					t.Errorf("no %s sent: %s", name, out.String())
				}
			}
			for _, check := range []string{checkExistsShrank, checkExpungeRange, checkUIDOrder, checkKeywordNotInList, checkFlagPropagation, checkAssignedUID, checkUIDReused} {
				if res.Checks[check] == 0 {
					t.Errorf("check %s never ran: %s", check, out.String())
				}
			}
			t.Logf("%s: %d ops, %.0f ops/s, %d races; %s", tc.name, res.Ops, res.OpsPerSec, res.Races, summaryLine(res))
		})
	}
}

// summaryLine lists the count of each command.
func summaryLine(res imapStressResult) string {
	var parts []string
	for _, name := range stressCommands {
		parts = append(parts, name+"="+itoa(res.Commands[name].Count))
	}
	return strings.Join(parts, " ")
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// TestIMAPStressFindsMemServerBugs: go-imap's in-memory example server
// (beta.8) reports a MOVE's EXPUNGE twice, so a moving session loses a
// message it still has, and never sends FLAGS for new keywords; imap-stress
// must report inconsistencies and fail.
func TestIMAPStressFindsMemServerBugs(t *testing.T) {
	t.Parallel()
	mem := imapmemserver.New()
	user := imapmemserver.NewUser("bob", "pw")
	for _, name := range []string{"INBOX", "Stress"} {
		if err := user.Create(name, nil); err != nil {
			t.Fatal(err)
		}
	}
	mem.AddUser(user)
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		Caps:         imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {}},
		InsecureAuth: true,
		Logger:       log.New(io.Discard, "", 0),
	})
	ln := testkit.Listen(t)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	var out bytes.Buffer
	err := runIMAPStress([]string{"-addr", ln.Addr().String(), "-user", "bob", "-pass", "pw",
		"-clients", "3", "-duration", "2s", "-idle", "100ms", "-max-inconsistencies", "0"}, &out)
	var res imapStressResult
	if jerr := json.Unmarshal(out.Bytes(), &res); jerr != nil {
		t.Fatalf("result %q: %v", out.String(), jerr)
	}
	if err == nil || res.Inconsistencies == 0 {
		t.Fatalf("run passed (error %v): %s", err, out.String())
	}
	t.Logf("%d inconsistencies: %v", res.Inconsistencies, res.ByCheck)
	if res.ByCheck[checkKeywordNotInList] == 0 {
		t.Errorf("missing FLAGS for new keywords not reported: %s", out.String())
	}
	seq := 0 // what the extra EXPUNGE of a MOVE leads to
	for _, check := range []string{checkExpungeRange, checkExistsShrank, checkFetchRange, checkUIDChanged, checkUIDOrder, checkUIDNotNew, checkUIDResurrected, checkMoveExpunge} {
		seq += res.ByCheck[check]
	}
	if seq == 0 {
		t.Errorf("MOVE's double EXPUNGE not reported: %s", out.String())
	}
}

// TestIMAPStressReportsHangs: a server that answers LOGIN but never
// SELECT makes every client report hangs and reconnect; the run still
// ends about -hang after -duration, and fails.
func TestIMAPStressReportsHangs(t *testing.T) {
	t.Parallel()
	ln := testkit.Listen(t)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				conn.Write([]byte("* OK [CAPABILITY IMAP4rev1 UIDPLUS MOVE IDLE] stuck server\r\n"))
				sc := bufio.NewScanner(conn)
				for sc.Scan() {
					tag, rest, _ := strings.Cut(sc.Text(), " ")
					switch verb, _, _ := strings.Cut(rest, " "); strings.ToUpper(verb) {
					case "LOGIN", "CAPABILITY", "LIST", "LOGOUT":
						if strings.EqualFold(verb, "CAPABILITY") {
							conn.Write([]byte("* CAPABILITY IMAP4rev1 UIDPLUS MOVE IDLE\r\n"))
						}
						conn.Write([]byte(tag + " OK done\r\n"))
					case "CREATE":
						conn.Write([]byte(tag + " NO [ALREADYEXISTS] exists\r\n"))
					default: // SELECT and the rest: no reply, ever
					}
				}
			}()
		}
	}()
	var out bytes.Buffer
	start := time.Now()
	err := runIMAPStress([]string{"-addr", ln.Addr().String(), "-user", "bob", "-pass", "pw",
		"-clients", "2", "-duration", "1s", "-hang", "300ms"}, &out)
	elapsed := time.Since(start)
	var res imapStressResult
	if jerr := json.Unmarshal(out.Bytes(), &res); jerr != nil {
		t.Fatalf("result %q: %v", out.String(), jerr)
	}
	if err == nil || res.Hangs < 2 {
		t.Fatalf("error %v, %d hangs: %s", err, res.Hangs, out.String())
	}
	for _, h := range res.HangList {
		if h.Command == "LOGIN" || h.Command == "LOGOUT" {
			t.Errorf("hang reported in %s, which the server answers", h.Command)
		}
	}
	if elapsed > 3*time.Second {
		t.Errorf("run took %v with -duration 1s -hang 300ms", elapsed)
	}
}
