package main

// The state model of one simulated IMAP session (imap-stress): the
// selected mailbox as the session must see it (message count, each
// message's UID and flags by sequence number, the FLAGS and
// PERMANENTFLAGS lists), updated from every server response in wire order
// (see imapstress_wire.go), and the checks each response must pass:
//
//   - exists-shrank: EXISTS is never below the known count (EXPUNGEs
//     lower the count as they come, so they are accounted for);
//   - expunge-range, fetch-range: EXPUNGE and FETCH name a message 1..count;
//   - expunge-in-fetch: no EXPUNGE between sending a FETCH or STORE by
//     sequence number and its reply (RFC 3501 §7.4.1: not while answering
//     them, nor outside any command);
//   - uid-order, uid-changed, uid-not-new, uid-resurrected, uid-reused:
//     UIDs ascend with sequence numbers and never change; a message that
//     arrives after SELECT has a UID above every UID the session saw; a
//     SELECT does not show a UID someone saw expunged before it was sent;
//     a UID never carries two Message-IDs;
//   - keyword-not-in-flags: every keyword in FETCH FLAGS is in the last
//     FLAGS or PERMANENTFLAGS list;
//   - flag-not-propagated: after a NOOP, the flags of every message are
//     the outcome of the STOREs (of any session) that completed before the
//     NOOP was sent, where that outcome is certain (stressWorld).
//
// Once a check fails the model may be wrong; it marks itself broken and
// the client selects the mailbox again.

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// stressCheck names one of the model's checks, as reported.
type stressCheck = string

// The checks, as they appear in reports.
const (
	checkExistsShrank     stressCheck = "exists-shrank"
	checkExpungeRange     stressCheck = "expunge-range"
	checkExpungeInFetch   stressCheck = "expunge-in-fetch"
	checkFetchRange       stressCheck = "fetch-range"
	checkUIDOrder         stressCheck = "uid-order"
	checkUIDChanged       stressCheck = "uid-changed"
	checkUIDNotNew        stressCheck = "uid-not-new"
	checkUIDResurrected   stressCheck = "uid-resurrected"
	checkUIDReused        stressCheck = "uid-reused"
	checkUIDNext          stressCheck = "uidnext"
	checkUIDValidity      stressCheck = "uidvalidity-changed"
	checkAssignedUID      stressCheck = "assigned-uid-not-new"
	checkKeywordNotInList stressCheck = "keyword-not-in-flags"
	checkFlagPropagation  stressCheck = "flag-not-propagated"
	checkMoveExpunge      stressCheck = "move-without-expunge"
)

// modelState is where the session is.
type modelState int

// The states of a session.
const (
	modelNone      modelState = iota // no mailbox selected
	modelSelecting                   // SELECT/EXAMINE sent, not answered
	modelSelected
)

// stressMsg is one message of the selected mailbox.
type stressMsg struct {
	uid   uint32          // 0: not seen yet
	flags map[string]bool // canonical flags without \Recent; nil: not seen yet
	// flagsFrom is the command during which the last FETCH FLAGS came,
	// or whose change was applied locally (flagsLocal), for reports.
	flagsFrom  string
	flagsLocal bool
	// isNew: announced by EXISTS after the SELECT; floor is the highest
	// UID the session had seen then.
	isNew bool
	floor uint32
}

// issueFunc receives a failed check: the check, what was expected and
// what was seen, with the session's last commands and responses. The
// model adds mailbox and command.
type issueFunc func(check stressCheck, mailbox, command, expected, seen string, recent []string)

// sessionModel is the model of one IMAP connection. Its methods are safe
// for concurrent use: the tap calls the response handlers from
// imapclient's reader goroutine, the client the rest.
type sessionModel struct {
	mu    sync.Mutex
	user  string
	world *stressWorld
	// seen is the highest UID the client saw per mailbox incarnation,
	// over all its sessions.
	seen  map[boxKey]uint32
	issue issueFunc
	// count counts checks made, by name.
	count func(check string)

	cmd       string // command in progress, for reports
	noExpunge bool   // it is FETCH or STORE by sequence number

	state      modelState
	mailbox    string
	readOnly   bool
	key        boxKey
	selectTick uint64 // world tick before SELECT was sent
	gotExists  bool
	msgs       []stressMsg
	flags      map[string]bool // last * FLAGS, canonical
	permFlags  map[string]bool // last PERMANENTFLAGS, canonical
	flagList   string          // last * FLAGS as sent, for reports
	permList   string          // last PERMANENTFLAGS as sent
	broken     bool            // a check failed: resynchronise
	bye        bool            // the server sent BYE
	detached   bool            // the connection was given up: ignore the rest
	fetched    map[uint32]bool // UIDs with FLAGS in a FETCH during cmd
	expunges   int             // EXPUNGE responses applied
	recent     []recentLine    // last commands and responses, for reports (a ring)
	recentN    int
	// badResponses counts responses the tap could not parse.
	badResponses int
}

// newSessionModel returns the model of a new connection of user; issue
// receives failed checks with the last recent commands and responses,
// count counts checks made (nil: not counted).
func newSessionModel(user string, world *stressWorld, seen map[boxKey]uint32, issue issueFunc, count func(string), recent int) *sessionModel {
	if count == nil {
		count = func(string) {}
	}
	return &sessionModel{user: user, world: world, seen: seen, issue: issue, count: count, recent: make([]recentLine, recent)}
}

// recentLine is a command sent or a response received, formatted only
// when a report needs it.
type recentLine struct {
	cmd  string
	resp *wireResp
}

// note keeps a command or a response. Called with m.mu held.
func (m *sessionModel) note(l recentLine) {
	if len(m.recent) > 0 {
		m.recent[m.recentN%len(m.recent)] = l
		m.recentN++
	}
}

// transcript returns the kept lines, oldest first. Called with m.mu held.
func (m *sessionModel) transcript() []string {
	var out []string
	for i := max(0, m.recentN-len(m.recent)); i < m.recentN; i++ {
		l := m.recent[i%len(m.recent)]
		if l.resp != nil {
			out = append(out, "S: "+shorten(l.resp.String(), 200))
		} else {
			out = append(out, "C: "+l.cmd)
		}
	}
	return out
}

// report sends a failed check to the recorder and marks the model broken.
// Called with m.mu held.
func (m *sessionModel) report(check stressCheck, expected, seen string) {
	m.broken = true
	m.issue(check, m.mailbox, m.cmd, expected, seen, m.transcript())
}

// canonFlag is the form flags are compared in (IMAP flags are
// case-insensitive).
func canonFlag(f string) string { return strings.ToLower(f) }

// beginCommand notes the command about to be sent. noExpunge is true for
// FETCH and STORE by sequence number, during which no EXPUNGE may come.
func (m *sessionModel) beginCommand(name string, noExpunge bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cmd, m.noExpunge = name, noExpunge
	m.fetched = map[uint32]bool{}
	m.note(recentLine{cmd: name})
}

// endCommand notes that the command got its tagged reply.
func (m *sessionModel) endCommand() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.noExpunge = false
}

// beginSelect resets the model for a SELECT (readOnly: EXAMINE) of name;
// tick is the world's clock just before it is sent.
func (m *sessionModel) beginSelect(name string, readOnly bool, tick uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.state, m.mailbox, m.readOnly, m.selectTick = modelSelecting, name, readOnly, tick
	m.key = boxKey{}
	m.gotExists, m.broken = false, false
	m.msgs, m.flags, m.permFlags, m.flagList, m.permList = nil, nil, nil, "", ""
}

// endSelect records the SELECT's reply: on success its UIDVALIDITY and
// UIDNEXT, checked against what anyone observed before (maxBefore, per
// UIDVALIDITY, taken before the SELECT was sent).
func (m *sessionModel) endSelect(ok bool, uidValidity, uidNext uint32, maxBefore map[uint32]uint32) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !ok {
		m.state, m.msgs = modelNone, nil
		return
	}
	m.state = modelSelected
	m.key = boxKey{m.user, m.mailbox, uidValidity}
	if first, changed := m.world.checkValidity(m.user, m.mailbox, uidValidity); changed {
		m.report(checkUIDValidity, fmt.Sprintf("UIDVALIDITY %d", first), fmt.Sprintf("UIDVALIDITY %d", uidValidity))
	}
	m.count(checkUIDNext)
	if maxUID := maxBefore[uidValidity]; uidNext != 0 && uidNext <= maxUID {
		m.report(checkUIDNext, fmt.Sprintf("UIDNEXT above %d (a UID seen before the SELECT)", maxUID), fmt.Sprintf("UIDNEXT %d", uidNext))
	}
	m.world.setSize(m.user, m.mailbox, len(m.msgs))
}

// detach ends the model: responses still in flight on a connection
// given up are ignored from now on.
func (m *sessionModel) detach() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.detached = true
	m.state, m.msgs, m.key = modelNone, nil, boxKey{}
}

// handle applies one server response. It is the tap's callback.
func (m *sessionModel) handle(r *wireResp) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.detached {
		return
	}
	if r.tag != "+" {
		m.note(recentLine{resp: r})
	}
	if r.tag != "*" {
		return // continuation requests and tagged replies: the client reads them
	}
	if m.broken && r.typ != "BYE" {
		return // out of step until the next SELECT: tell the world nothing
	}
	switch r.typ {
	case "EXISTS":
		m.onExists(r.num)
	case "EXPUNGE":
		m.onExpunge(r.num)
	case "FETCH":
		if len(r.args) == 1 && r.args[0].kind == wireList {
			m.onFetch(r.num, r.args[0].list)
		}
	case "FLAGS":
		if len(r.args) == 1 && r.args[0].kind == wireList {
			m.flags, m.flagList = flagSet(r.args[0].list), r.args[0].String()
		}
	case "OK":
		if r.code == "PERMANENTFLAGS" && len(r.codeArgs) == 1 && r.codeArgs[0].kind == wireList {
			m.permFlags, m.permList = flagSet(r.codeArgs[0].list), r.codeArgs[0].String()
		}
	case "BYE":
		m.bye = true
	}
}

// badResponse counts a response the tap could not parse.
func (m *sessionModel) badResponse() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.badResponses++
}

// flagSet returns the canonical set of a flag list.
func flagSet(list []wireToken) map[string]bool {
	s := make(map[string]bool, len(list))
	for _, t := range list {
		if t.kind == wireAtom {
			s[canonFlag(t.text)] = true
		}
	}
	return s
}

// onExists handles "* n EXISTS".
func (m *sessionModel) onExists(n uint32) {
	switch m.state {
	case modelSelecting:
		if !m.gotExists {
			m.gotExists = true
			m.msgs = make([]stressMsg, n)
			return
		}
	case modelSelected:
	default:
		return
	}
	m.count(checkExistsShrank)
	if int(n) < len(m.msgs) {
		m.report(checkExistsShrank, fmt.Sprintf("EXISTS >= %d (no EXPUNGE since)", len(m.msgs)), fmt.Sprintf("%d EXISTS", n))
		m.msgs = m.msgs[:n]
		return
	}
	floor := m.seen[m.key]
	for range int(n) - len(m.msgs) {
		m.msgs = append(m.msgs, stressMsg{isNew: true, floor: floor})
	}
}

// onExpunge handles "* n EXPUNGE".
func (m *sessionModel) onExpunge(seq uint32) {
	if m.state == modelSelecting {
		return // the previous mailbox's, sent before the SELECT's reply
	}
	if m.state != modelSelected {
		return
	}
	m.count(checkExpungeRange)
	if m.noExpunge {
		m.report(checkExpungeInFetch, "no EXPUNGE between sending "+m.cmd+" by sequence number and its reply (RFC 3501 §7.4.1)", fmt.Sprintf("%d EXPUNGE", seq))
	}
	if seq < 1 || int(seq) > len(m.msgs) {
		m.report(checkExpungeRange, fmt.Sprintf("EXPUNGE of 1..%d", len(m.msgs)), fmt.Sprintf("%d EXPUNGE", seq))
		return
	}
	if uid := m.msgs[seq-1].uid; uid != 0 {
		m.world.observeExpunge(m.key, uid)
	}
	m.msgs = slices.Delete(m.msgs, int(seq-1), int(seq))
	m.expunges++
}

// isBroken reports whether a check failed since the last SELECT.
func (m *sessionModel) isBroken() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.broken
}

// expungeCount returns how many EXPUNGE responses the model applied.
func (m *sessionModel) expungeCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.expunges
}

// mailboxName returns the selected (or selecting) mailbox.
func (m *sessionModel) mailboxName() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.state == modelNone {
		return ""
	}
	return m.mailbox
}

// fetchData is what the model uses of one FETCH response.
type fetchData struct {
	uid      uint32
	flags    map[string]bool
	hasFlags bool
	keywords []string // keywords in FLAGS as sent
	flagText string
	msgID    string // from ENVELOPE or a BODY[] section
}

// parseFetch extracts UID, FLAGS and a Message-ID from FETCH items.
func parseFetch(items []wireToken) fetchData {
	var d fetchData
	for i := 0; i+1 < len(items); i += 2 {
		name, v := strings.ToUpper(items[i].text), items[i+1]
		switch {
		case name == "UID":
			if u, err := strconv.ParseUint(v.text, 10, 32); err == nil {
				d.uid = uint32(u)
			}
		case name == "FLAGS" && v.kind == wireList:
			d.hasFlags, d.flagText = true, v.String()
			d.flags = map[string]bool{}
			for _, f := range v.list {
				c := canonFlag(f.text)
				if c == `\recent` {
					continue
				}
				d.flags[c] = true
				if !strings.HasPrefix(f.text, `\`) {
					d.keywords = append(d.keywords, f.text)
				}
			}
		case name == "ENVELOPE" && v.kind == wireList && len(v.list) == 10:
			if mid := v.list[9]; mid.kind == wireString {
				d.msgID = strings.TrimSpace(mid.text)
			}
		case strings.HasPrefix(name, "BODY[") && v.kind == wireString:
			if mid := headerMessageID(v.text); mid != "" {
				d.msgID = mid
			}
		}
	}
	return d
}

// headerMessageID returns the Message-ID field of a message's header.
func headerMessageID(msg string) string {
	for len(msg) > 0 {
		line, rest, _ := strings.Cut(msg, "\n")
		line = strings.TrimRight(line, "\r")
		if line == "" {
			return ""
		}
		if name, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(strings.TrimSpace(name), "Message-ID") {
			return strings.TrimSpace(v)
		}
		msg = rest
	}
	return ""
}

// provenance says where a message's flags in the model came from.
func (e *stressMsg) provenance() string {
	if e.flagsLocal {
		return "applied from the session's own " + e.flagsFrom
	}
	return "from the last FETCH FLAGS, during " + e.flagsFrom
}

// onFetch handles "* seq FETCH (items)".
func (m *sessionModel) onFetch(seq uint32, items []wireToken) {
	if m.state != modelSelected {
		return
	}
	m.count(checkFetchRange)
	if seq < 1 || int(seq) > len(m.msgs) {
		m.report(checkFetchRange, fmt.Sprintf("FETCH of 1..%d", len(m.msgs)), fmt.Sprintf("%d FETCH %s", seq, wireToken{kind: wireList, list: items}))
		return
	}
	d := parseFetch(items)
	e := &m.msgs[seq-1]
	if d.uid != 0 {
		m.onUID(int(seq-1), e, d.uid)
	}
	if d.hasFlags {
		m.count(checkKeywordNotInList)
		for _, k := range d.keywords {
			c := canonFlag(k)
			if !m.flags[c] && !m.permFlags[c] {
				m.report(checkKeywordNotInList, fmt.Sprintf("keyword %s in FLAGS %s or PERMANENTFLAGS %s", k, orNone(m.flagList), orNone(m.permList)),
					fmt.Sprintf("%d FETCH (FLAGS %s): missing from both", seq, d.flagText))
			}
		}
		e.flags, e.flagsFrom, e.flagsLocal = d.flags, m.cmd, false
		if e.uid != 0 {
			m.fetched[e.uid] = true
		}
	}
	if d.msgID != "" && e.uid != 0 {
		m.count(checkUIDReused)
		if old := m.world.observeIdentity(m.key, e.uid, d.msgID); old != "" {
			m.report(checkUIDReused, fmt.Sprintf("UID %d is message %s", e.uid, old), fmt.Sprintf("UID %d is message %s", e.uid, d.msgID))
		}
	}
}

// orNone shows a flag list not received yet.
func orNone(s string) string {
	if s == "" {
		return "(none received)"
	}
	return s
}

// onUID checks and records the UID a FETCH gave message i.
func (m *sessionModel) onUID(i int, e *stressMsg, uid uint32) {
	m.count(checkUIDOrder)
	if e.uid != 0 {
		if e.uid != uid {
			m.report(checkUIDChanged, fmt.Sprintf("message %d has UID %d", i+1, e.uid), fmt.Sprintf("UID %d", uid))
		}
		return
	}
	for j := i - 1; j >= 0; j-- {
		if p := m.msgs[j].uid; p != 0 {
			if p >= uid {
				m.report(checkUIDOrder, fmt.Sprintf("UID of message %d above %d (message %d's)", i+1, p, j+1), fmt.Sprintf("UID %d", uid))
				return
			}
			break
		}
	}
	for j := i + 1; j < len(m.msgs); j++ {
		if n := m.msgs[j].uid; n != 0 {
			if n <= uid {
				m.report(checkUIDOrder, fmt.Sprintf("UID of message %d below %d (message %d's)", i+1, n, j+1), fmt.Sprintf("UID %d", uid))
				return
			}
			break
		}
	}
	if e.isNew && uid <= e.floor {
		m.report(checkUIDNotNew, fmt.Sprintf("new message %d with a UID above %d (seen before it arrived)", i+1, e.floor), fmt.Sprintf("UID %d", uid))
		return
	}
	if !e.isNew && m.world.expungedBefore(m.key, uid, m.selectTick) {
		// The server shows the message: this session is in step with
		// it, the world's fact is what was wrong (or became so). Report
		// it once and forget it, so later SELECTs are not reported too.
		m.world.unexpunge(m.key, uid)
		m.issue(checkUIDResurrected, m.mailbox, m.cmd, fmt.Sprintf("no UID %d (seen expunged before the SELECT)", uid),
			fmt.Sprintf("message %d with UID %d", i+1, uid), m.transcript())
	}
	e.uid = uid
	if uid > m.seen[m.key] {
		m.seen[m.key] = uid
	}
	m.world.observeUID(m.key, uid)
}

// checkFlags compares every message's flags with the certain outcomes of
// STOREs that completed before tick t0, when a NOOP sent after t0 got OK.
func (m *sessionModel) checkFlags(t0 uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.state != modelSelected || m.broken {
		return
	}
	for i, e := range m.msgs {
		if e.uid == 0 || e.flags == nil {
			continue
		}
		for _, x := range m.world.expectations(m.key, e.uid, t0) {
			m.count(checkFlagPropagation)
			if e.flags[x.flag] != x.present {
				want := "set"
				if !x.present {
					want = "cleared"
				}
				m.report(checkFlagPropagation, fmt.Sprintf("UID %d: %s %s (client %d's STORE, completed before this NOOP was sent)", e.uid, x.flag, want, x.writer),
					fmt.Sprintf("message %d FLAGS %s (%s)", i+1, showFlags(e.flags), e.provenance()))
				// Reported once: other sessions are not asked again.
				m.world.distrust(m.key, e.uid, x.flag)
				return
			}
		}
	}
}

// showFlags prints a canonical flag set as a sorted list.
func showFlags(s map[string]bool) string {
	fs := make([]string, 0, len(s))
	for f := range s {
		fs = append(fs, f)
	}
	slices.Sort(fs)
	return "(" + strings.Join(fs, " ") + ")"
}

// applyStore updates the flags of the messages a STORE that got OK
// changed (op '+', '-' or '=' with canonical flags). After a .SILENT
// STORE the change is applied to every message: a FETCH during it may
// carry the state from before it (updates the server flushed first).
// Otherwise only messages without a FETCH FLAGS during the STORE change:
// the STORE's own FETCH comes after any older update and is the truth.
func (m *sessionModel) applyStore(uids []uint32, op byte, flags []string, silent bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	want := map[uint32]bool{}
	for _, u := range uids {
		if silent || !m.fetched[u] {
			want[u] = true
		}
	}
	for i := range m.msgs {
		e := &m.msgs[i]
		if !want[e.uid] {
			continue
		}
		e.flagsFrom, e.flagsLocal = m.cmd, true
		switch op {
		case '=':
			e.flags = map[string]bool{}
			for _, f := range flags {
				e.flags[f] = true
			}
		case '+', '-':
			if e.flags == nil {
				continue
			}
			nf := maps.Clone(e.flags) // views share the old map
			for _, f := range flags {
				if op == '+' {
					nf[f] = true
				} else {
					delete(nf, f)
				}
			}
			e.flags = nf
		}
	}
}

// forgetFlags marks the flags of uids unknown (a STORE whose outcome is
// not known).
func (m *sessionModel) forgetFlags(uids []uint32) {
	m.mu.Lock()
	defer m.mu.Unlock()
	want := map[uint32]bool{}
	for _, u := range uids {
		want[u] = true
	}
	for i := range m.msgs {
		if want[m.msgs[i].uid] {
			m.msgs[i].flags = nil
		}
	}
}

// checkMoved reports moved UIDs still in the mailbox after MOVE's OK
// (RFC 6851 §3.3: the server sends EXPUNGE for them during the command).
func (m *sessionModel) checkMoved(uids []uint32) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.state != modelSelected || m.broken {
		return
	}
	moved := map[uint32]bool{}
	for _, u := range uids {
		moved[u] = true
	}
	m.count(checkMoveExpunge)
	for i, e := range m.msgs {
		if e.uid != 0 && moved[e.uid] {
			m.report(checkMoveExpunge, fmt.Sprintf("EXPUNGE of UID %d during MOVE", e.uid), fmt.Sprintf("message %d with UID %d still there after OK", i+1, e.uid))
			return
		}
	}
}

// modelView is a copy of what the client needs to choose its next command.
type modelView struct {
	state    modelState
	mailbox  string
	readOnly bool
	key      boxKey
	broken   bool
	bye      bool
	msgs     []stressMsg // flags maps shared: read only
}

// view returns a copy of the model's state.
func (m *sessionModel) view() modelView {
	m.mu.Lock()
	defer m.mu.Unlock()
	return modelView{m.state, m.mailbox, m.readOnly, m.key, m.broken, m.bye, slices.Clone(m.msgs)}
}

// has reports which of uids are still in the model.
func (m *sessionModel) has(uids []uint32) []uint32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	want := map[uint32]bool{}
	for _, u := range uids {
		want[u] = true
	}
	var out []uint32
	for _, e := range m.msgs {
		if want[e.uid] {
			out = append(out, e.uid)
		}
	}
	return out
}
