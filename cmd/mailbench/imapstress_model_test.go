package main

import (
	"slices"
	"strings"
	"testing"
)

// modelHarness is one session model fed from a transcript of server
// responses, recording the checks it reports.
type modelHarness struct {
	t      *testing.T
	w      *stressWorld
	m      *sessionModel
	p      respParser
	issues []string // "check: expected | seen"
	recent []string // transcript of the last issue
}

func newHarness(t *testing.T, w *stressWorld) *modelHarness {
	h := &modelHarness{t: t, w: w}
	h.m = newSessionModel("bob", w, map[boxKey]uint32{}, func(check stressCheck, mailbox, command, expected, seen string, recent []string) {
		h.issues = append(h.issues, check+": "+expected+" | "+seen)
		h.recent = recent
	}, nil, 8)
	h.p = respParser{handle: h.m.handle, bad: func(raw []byte, err error) { t.Fatalf("bad response %q: %v", raw, err) }}
	return h
}

// recv feeds server response lines (CRLF added).
func (h *modelHarness) recv(lines ...string) {
	for _, l := range lines {
		h.p.feed([]byte(l + "\r\n"))
	}
}

// selectBox runs a SELECT of INBOX with the given untagged responses and
// UIDVALIDITY 7, UIDNEXT uidNext; maxBefore is the highest UID seen by
// anyone before it.
func (h *modelHarness) selectBox(uidNext, maxBefore uint32, lines ...string) {
	h.m.beginSelect("INBOX", false, h.w.now())
	h.recv(lines...)
	h.recv("T1 OK [READ-WRITE] done")
	h.m.endSelect(true, 7, uidNext, map[uint32]uint32{7: maxBefore})
}

// want checks that exactly the given checks were reported since the last
// call, in order.
func (h *modelHarness) want(checks ...string) {
	h.t.Helper()
	var got []string
	for _, is := range h.issues {
		got = append(got, strings.SplitN(is, ":", 2)[0])
	}
	if !slices.Equal(got, checks) {
		h.t.Errorf("reported %q, want checks %q", h.issues, checks)
	}
	h.issues = nil
}

var inbox7 = boxKey{"bob", "INBOX", 7}

// selected returns a harness with INBOX selected: 3 messages, UIDs 2 4 6,
// FLAGS with keyword $a, PERMANENTFLAGS with $p.
func selected(t *testing.T, w *stressWorld) *modelHarness {
	h := newHarness(t, w)
	h.selectBox(7, 0,
		`* FLAGS (\Seen \Deleted $a)`,
		`* OK [PERMANENTFLAGS (\Seen \Deleted $a $p \*)] ok`,
		"* 3 EXISTS", "* 0 RECENT", "* OK [UIDVALIDITY 7] ok", "* OK [UIDNEXT 7] ok")
	h.m.beginCommand("FETCH", true)
	h.recv(`* 1 FETCH (UID 2 FLAGS (\Seen))`, `* 2 FETCH (UID 4 FLAGS ())`, `* 3 FETCH (UID 6 FLAGS ($a \Recent))`, "T2 OK done")
	h.m.endCommand()
	h.want()
	return h
}

// TestModelConsistentTranscript: a session with expunges, new messages,
// flag updates and a keyword in PERMANENTFLAGS only reports nothing.
func TestModelConsistentTranscript(t *testing.T) {
	h := selected(t, newStressWorld())
	h.m.beginCommand("NOOP", false)
	h.recv("* 2 EXPUNGE", "* 3 EXISTS", "* 4 EXISTS", `* 1 FETCH (FLAGS ($p))`, "T3 OK")
	h.m.endCommand()
	h.m.beginCommand("FETCH", true)
	h.recv(`* 3 FETCH (UID 8 FLAGS ())`, `* 4 FETCH (UID 9 FLAGS ($a))`, "* 4 EXISTS", "T4 OK")
	h.m.endCommand()
	h.m.beginCommand("UID EXPUNGE", false)
	h.recv("* 4 EXPUNGE", "* 1 EXPUNGE", "T5 OK")
	h.m.endCommand()
	h.want()
	v := h.m.view()
	var uids []uint32
	for _, e := range v.msgs {
		uids = append(uids, e.uid)
	}
	if !slices.Equal(uids, []uint32{6, 8}) {
		t.Errorf("UIDs %v, want [6 8]", uids)
	}
	if !h.w.expungedBefore(inbox7, 4, h.w.now()) || !h.w.expungedBefore(inbox7, 9, h.w.now()) {
		t.Error("expunged UIDs 4 and 9 not recorded in the world")
	}
}

// TestModelChecks: each wrong response is reported by its check.
func TestModelChecks(t *testing.T) {
	for _, tc := range []struct {
		name  string
		run   func(h *modelHarness)
		check string
	}{
		{"EXISTS below the count", func(h *modelHarness) { h.recv("* 2 EXISTS") }, checkExistsShrank},
		{"EXISTS below the count after an EXPUNGE", func(h *modelHarness) { h.recv("* 1 EXPUNGE", "* 1 EXISTS") }, checkExistsShrank},
		{"EXPUNGE beyond the count", func(h *modelHarness) { h.recv("* 4 EXPUNGE") }, checkExpungeRange},
		{"EXPUNGE 0", func(h *modelHarness) { h.recv("* 0 EXPUNGE") }, checkExpungeRange},
		{"EXPUNGE during FETCH by sequence number", func(h *modelHarness) {
			h.m.beginCommand("FETCH", true)
			h.recv("* 1 EXPUNGE")
		}, checkExpungeInFetch},
		{"FETCH beyond the count", func(h *modelHarness) { h.recv(`* 4 FETCH (FLAGS ())`) }, checkFetchRange},
		{"UID changed", func(h *modelHarness) { h.recv(`* 2 FETCH (UID 5)`) }, checkUIDChanged},
		{"UIDs out of order", func(h *modelHarness) {
			h.recv("* 5 EXISTS", "* 5 FETCH (UID 9)", "* 4 FETCH (UID 10)")
		}, checkUIDOrder},
		{"new message below a UID seen before", func(h *modelHarness) {
			h.recv("* 4 EXISTS", "* 4 FETCH (UID 9)", "* 4 EXPUNGE", "* 4 EXISTS", "* 4 FETCH (UID 8)")
		}, checkUIDNotNew},
		{"new message reuses an expunged UID", func(h *modelHarness) {
			h.recv("* 3 EXPUNGE", "* 3 EXISTS", "* 3 FETCH (UID 6)")
		}, checkUIDNotNew},
		{"keyword in neither FLAGS nor PERMANENTFLAGS", func(h *modelHarness) { h.recv(`* 2 FETCH (FLAGS (\Seen $new))`) }, checkKeywordNotInList},
		{"keyword after FLAGS and PERMANENTFLAGS shrank", func(h *modelHarness) {
			h.recv(`* FLAGS (\Seen)`, `* OK [PERMANENTFLAGS (\Seen)] ok`, `* 2 FETCH (FLAGS ($a))`)
		}, checkKeywordNotInList},
		{"one UID, two messages", func(h *modelHarness) {
			h.w.observeIdentity(inbox7, 4, "<one@x>")
			h.recv(`* 2 FETCH (ENVELOPE (NIL "s" NIL NIL NIL NIL NIL NIL NIL "<two@x>"))`)
		}, checkUIDReused},
		{"one UID, two messages (BODY[])", func(h *modelHarness) {
			h.w.observeIdentity(inbox7, 2, "<one@x>")
			h.recv("* 1 FETCH (BODY[] {36}", "Subject: x", "Message-ID: <two@x>", "", "b)")
		}, checkUIDReused},
		{"moved message still there", func(h *modelHarness) {
			h.m.beginCommand("MOVE", false)
			h.recv("* 1 EXPUNGE", "T9 OK")
			h.m.checkMoved([]uint32{2, 4})
		}, checkMoveExpunge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := selected(t, newStressWorld())
			tc.run(h)
			h.want(tc.check)
		})
	}
}

// TestModelSelectChecks: UIDNEXT, UIDVALIDITY and a UID seen expunged
// before the SELECT are checked against the world.
func TestModelSelectChecks(t *testing.T) {
	w := newStressWorld()
	h := newHarness(t, w)
	h.selectBox(9, 12, "* 0 EXISTS")
	h.want(checkUIDNext)

	h = newHarness(t, w)
	h.m.beginSelect("INBOX", false, w.now())
	h.recv("* 0 EXISTS")
	h.m.endSelect(true, 8, 20, nil)
	h.want(checkUIDValidity)

	w.observeExpunge(inbox7, 4)
	h = newHarness(t, w)
	h.selectBox(20, 12, `* FLAGS ()`, "* 2 EXISTS")
	h.recv("* 1 FETCH (UID 3)", "* 2 FETCH (UID 4)")
	h.want(checkUIDResurrected)

	// Seen expunged only after the SELECT was sent: a lagging session
	// may still show it.
	h = newHarness(t, w)
	h.m.beginSelect("INBOX", false, w.now())
	w.observeExpunge(inbox7, 5)
	h.recv("* 1 EXISTS")
	h.m.endSelect(true, 7, 20, nil)
	h.recv("* 1 FETCH (UID 5)")
	h.want()
}

// TestFlagPropagation: a certain STORE by one client must show in another
// session after a NOOP sent after it completed; uncertain ones are not
// checked.
func TestFlagPropagation(t *testing.T) {
	k := inbox7
	// storeBy runs a complete STORE of flag on UID 4 by writer.
	storeBy := func(w *stressWorld, writer int, op byte, flag string, outcome storeOutcome) {
		w.endStore(w.beginStore(k, writer, []uint32{4}, op, []string{flag}), outcome)
	}
	for _, tc := range []struct {
		name string
		run  func(w *stressWorld, h *modelHarness) uint64 // returns the NOOP's tick
		want []string
	}{
		{"update missing", func(w *stressWorld, h *modelHarness) uint64 {
			storeBy(w, 2, '+', "$s2x0", storeOK)
			return w.now()
		}, []string{checkFlagPropagation}},
		{"update received", func(w *stressWorld, h *modelHarness) uint64 {
			storeBy(w, 2, '+', "$s2x0", storeOK)
			t0 := w.now()
			h.recv(`* 2 FETCH (FLAGS ($s2x0))`)
			return t0
		}, nil},
		{"clear missing", func(w *stressWorld, h *modelHarness) uint64 {
			storeBy(w, 2, '+', "$s2x0", storeOK)
			h.recv(`* 2 FETCH (FLAGS ($s2x0))`)
			storeBy(w, 2, '-', "$s2x0", storeOK)
			return w.now()
		}, []string{checkFlagPropagation}},
		{"NOOP sent before the STORE completed", func(w *stressWorld, h *modelHarness) uint64 {
			sw := w.beginStore(k, 2, []uint32{4}, '+', []string{"$s2x0"})
			t0 := w.now()
			w.endStore(sw, storeOK)
			return t0
		}, nil},
		{"overlapping STOREs", func(w *stressWorld, h *modelHarness) uint64 {
			a := w.beginStore(k, 2, []uint32{4}, '+', []string{"$s2x0"})
			b := w.beginStore(k, 3, []uint32{4}, '-', []string{"$s2x0"})
			w.endStore(a, storeOK)
			w.endStore(b, storeOK)
			return w.now()
		}, nil},
		{"failed STORE", func(w *stressWorld, h *modelHarness) uint64 {
			storeBy(w, 2, '+', "$s2x0", storeFailed)
			return w.now()
		}, nil},
		{"interrupted STORE, then a certain one", func(w *stressWorld, h *modelHarness) uint64 {
			storeBy(w, 2, '+', "$s2x0", storeInterrupted)
			storeBy(w, 2, '-', "$s2x0", storeOK)
			h.recv(`* 2 FETCH (FLAGS ($s2x0))`)
			return w.now()
		}, nil},
		{"certain after overlapping", func(w *stressWorld, h *modelHarness) uint64 {
			a := w.beginStore(k, 2, []uint32{4}, '+', []string{"$s2x0"})
			b := w.beginStore(k, 3, []uint32{4}, '-', []string{"$s2x0"})
			w.endStore(b, storeOK)
			w.endStore(a, storeOK)
			storeBy(w, 3, '+', "$s2x0", storeOK)
			return w.now()
		}, []string{checkFlagPropagation}},
		{"replace clears another client's keyword", func(w *stressWorld, h *modelHarness) uint64 {
			storeBy(w, 3, '+', "$s3x0", storeOK)
			h.recv(`* 2 FETCH (FLAGS ($s3x0))`)
			storeBy(w, 2, '=', "$s2x0", storeOK)
			h.recv(`* 2 FETCH (FLAGS ($s2x0 $s3x0))`)
			return w.now()
		}, []string{checkFlagPropagation}},
		{"replace overlapping a STORE of a keyword nobody stored before", func(w *stressWorld, h *modelHarness) uint64 {
			a := w.beginStore(k, 2, []uint32{4}, '=', []string{"$s2x0"})
			storeBy(w, 3, '+', "$s3x0", storeOK) // the server may apply a after it
			w.endStore(a, storeOK)
			h.recv(`* 2 FETCH (FLAGS ($s2x0))`)
			return w.now()
		}, nil},
		{"replace before a STORE", func(w *stressWorld, h *modelHarness) uint64 {
			storeBy(w, 2, '=', "$s2x0", storeOK)
			storeBy(w, 3, '+', "$s3x0", storeOK)
			h.recv(`* 2 FETCH (FLAGS ($s2x0))`)
			return w.now()
		}, []string{checkFlagPropagation}},
		{"interrupted replace", func(w *stressWorld, h *modelHarness) uint64 {
			storeBy(w, 2, '=', "$s2x0", storeInterrupted)
			storeBy(w, 3, '+', "$s3x0", storeOK)
			return w.now()
		}, nil},
		{"message expunged meanwhile", func(w *stressWorld, h *modelHarness) uint64 {
			storeBy(w, 2, '+', "$s2x0", storeOK)
			w.observeExpunge(k, 4)
			return w.now()
		}, nil},
		{"APPEND's flags", func(w *stressWorld, h *modelHarness) uint64 {
			start := w.now()
			h.recv("* 4 EXISTS", `* 4 FETCH (UID 8 FLAGS (\Seen))`)
			w.recordFlags(k, 2, 8, []string{`\seen`, "$s2x1"}, start)
			return w.now()
		}, []string{checkFlagPropagation}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newStressWorld()
			h := selected(t, w)
			h.recv(`* FLAGS (\Seen $s2x0 $s2x1 $s3x0)`)
			t0 := tc.run(w, h)
			h.m.checkFlags(t0)
			h.want(tc.want...)
		})
	}
}

// TestApplyStore: after a STORE's OK the writer's model shows its
// change: from the FETCH that came during it, else applied locally; after
// a .SILENT STORE always applied (a FETCH during it may predate it).
func TestApplyStore(t *testing.T) {
	h := selected(t, newStressWorld())
	h.m.beginCommand("STORE", false)
	h.recv(`* 1 FETCH (UID 2 FLAGS ($a))`, "T5 OK")
	h.m.endCommand()
	h.m.applyStore([]uint32{2, 4}, '+', []string{`\seen`}, false)
	v := h.m.view()
	if got := showFlags(v.msgs[0].flags); got != "($a)" {
		t.Errorf("message 1 (FETCH came) flags %s, want ($a)", got)
	}
	if got := showFlags(v.msgs[1].flags); got != `(\seen)` {
		t.Errorf("message 2 (no FETCH) flags %s, want (\\seen)", got)
	}
	h.m.beginCommand("STORE", false)
	h.recv(`* 1 FETCH (UID 2 FLAGS ($a))`, "T6 OK")
	h.m.endCommand()
	h.m.applyStore([]uint32{2}, '+', []string{"$c"}, true)
	if got := showFlags(h.m.view().msgs[0].flags); got != "($a $c)" {
		t.Errorf("message 1 after STORE +FLAGS.SILENT ($c) and an older FETCH: %s, want ($a $c)", got)
	}
	h.m.beginCommand("STORE", false)
	h.m.applyStore([]uint32{6}, '=', []string{"$b"}, false)
	if got := showFlags(h.m.view().msgs[2].flags); got != "($b)" {
		t.Errorf("message 3 after replace: %s, want ($b)", got)
	}
	h.m.forgetFlags([]uint32{6})
	if h.m.view().msgs[2].flags != nil {
		t.Error("forgetFlags kept the flags")
	}
}

// TestFlagMismatchReportedOnce: when several sessions disagree with the
// world about the same flag, only the first reports it.
func TestFlagMismatchReportedOnce(t *testing.T) {
	w := newStressWorld()
	a, b := selected(t, w), selected(t, w)
	w.endStore(w.beginStore(inbox7, 3, []uint32{4}, '+', []string{"$s3x0"}), storeOK)
	t0 := w.now()
	a.m.checkFlags(t0)
	a.want(checkFlagPropagation)
	b.m.checkFlags(t0)
	b.want()
}

// TestReportTranscript: a report carries the session's last commands and
// responses, oldest first.
func TestReportTranscript(t *testing.T) {
	h := selected(t, newStressWorld())
	h.m.beginCommand("NOOP", false)
	h.recv("* 4 EXISTS", "* 2 EXISTS")
	h.want(checkExistsShrank)
	want := []string{`S: * 2 FETCH (UID 4 FLAGS ())`, `S: * 3 FETCH (UID 6 FLAGS ($a \Recent))`, "S: T2 OK done", "C: NOOP", "S: * 4 EXISTS", "S: * 2 EXISTS"}
	if got := h.recent[len(h.recent)-len(want):]; !slices.Equal(got, want) || len(h.recent) != 8 {
		t.Errorf("transcript %q, want 8 lines ending in %q", h.recent, want)
	}
}
