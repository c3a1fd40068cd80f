package main

// One simulated client of imap-stress and its command mix: it logs in,
// selects mailboxes and sends a random weighted mix of commands (FETCH,
// STORE, EXPUNGE, UID EXPUNGE, APPEND, COPY, MOVE, IDLE, NOOP,
// SELECT/EXAMINE, LOGOUT), telling the world what it changes, while its
// sessionModel follows every response. The connection, LOGIN and the
// hang watchdog are in imapstress_conn.go.

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"time"

	imap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// stressKeywordPool bounds the distinct keywords a run uses: Maildir
// stores keywords as the letters a-z of a file name, so Postern's folders
// hold at most 26 (and Dovecot keeps the rest in its index only).
const stressKeywordPool = 20

// stressSystemFlags are the system flags STORE sets and clears.
var stressSystemFlags = []imap.Flag{imap.FlagSeen, imap.FlagFlagged, imap.FlagAnswered, imap.FlagDraft}

// stressClient is one simulated client. Its fields are used by its own
// goroutine only, except the model (see sessionModel).
type stressClient struct {
	id       int
	cfg      *stressConfig
	user     stressUser
	rng      *rand.Rand
	world    *stressWorld
	rec      *stressRecorder
	deadline time.Time
	keywords []imap.Flag
	seen     map[boxKey]uint32 // highest UID seen per mailbox, over all sessions

	lat map[string][]time.Duration // latency of every tagged reply, by command
	nos map[string]int             // NO/BAD replies by command
	ops int

	// The connection; c is nil when there is none.
	tcp           net.Conn
	c             *imapclient.Client
	m             *sessionModel
	uidPlus, move bool // capabilities of the server
	idle          bool
	cmds          int // steps of the mix since LOGIN (a SELECT with its FETCH is one)
	logoutAt      int // log out after this many (-logout-every)
	msgN          int // messages appended
}

// newStressClient returns client id (from 1; 0 sets up mailboxes) of a
// run ending at deadline.
func newStressClient(id int, cfg *stressConfig, world *stressWorld, rec *stressRecorder, deadline time.Time) *stressClient {
	cl := &stressClient{
		id: id, cfg: cfg, world: world, rec: rec, deadline: deadline,
		user: cfg.users[(max(id, 1)-1)%len(cfg.users)],
		rng:  rand.New(rand.NewPCG(cfg.seed, uint64(id))),
		seen: map[boxKey]uint32{},
		lat:  map[string][]time.Duration{},
		nos:  map[string]int{},
	}
	// Each client owns keywords nobody else sets, unless there are more
	// clients than the pool allows: then a few clients share an owner's
	// keywords (stressWorld keeps the checks sound either way).
	owners := max(1, stressKeywordPool/cfg.keywords)
	owner := id
	if cfg.clients*cfg.keywords > stressKeywordPool {
		owner = (id-1)%owners + 1
	}
	for n := range cfg.keywords {
		cl.keywords = append(cl.keywords, imap.Flag(fmt.Sprintf("$s%dx%d", owner, n)))
	}
	return cl
}

// running reports whether the client should go on.
func (cl *stressClient) running() bool {
	return time.Now().Before(cl.deadline) && !cl.rec.isStopped() && (cl.cfg.maxOps == 0 || cl.ops < cl.cfg.maxOps)
}

// run is the client's loop, until the deadline.
func (cl *stressClient) run() {
	for cl.running() {
		if cl.c == nil {
			if err := cl.login(); err != nil {
				cl.pause()
			}
			continue
		}
		v := cl.m.view()
		switch {
		case v.bye:
			cl.rec.error(cl.id, v.mailbox, "-", "server sent BYE")
			cl.drop()
			continue
		case v.state == modelSelected && v.broken:
			cl.opSelect(v.mailbox, v.readOnly)
		case v.state != modelSelected:
			switch r := cl.rng.IntN(10); {
			case r < 8:
				cl.opSelect(cl.pickMailbox(), cl.rng.IntN(5) == 0)
			case r < 9:
				cl.opAppend()
			default:
				cl.opNoop(v)
			}
		default:
			cl.world.setSize(cl.user.name, v.mailbox, len(v.msgs))
			cl.step(v)
		}
		cl.cmds++
		if cl.c != nil && cl.cfg.logoutEvery > 0 && cl.cmds >= cl.logoutAt {
			cl.opLogout()
		}
	}
	if cl.c != nil {
		cl.opLogout()
	}
}

// pause waits a little after a failed connection, not past the deadline.
func (cl *stressClient) pause() {
	time.Sleep(min(200*time.Millisecond, max(time.Until(cl.deadline), 0)))
}

// step sends one command of the mix in a selected mailbox.
func (cl *stressClient) step(v modelView) {
	if len(v.msgs) > cl.cfg.maxMessages && !v.readOnly && cl.rng.IntN(2) == 0 {
		cl.opCleanup(v)
		return
	}
	type choice struct {
		weight int
		op     func(modelView)
	}
	choices := []choice{
		{18, cl.opFetch},
		{14, func(v modelView) { cl.opNoop(v) }},
		{10, func(modelView) { cl.opAppend() }},
		{6, cl.opCopy},
		{5, func(modelView) { cl.opSelect(cl.pickMailbox(), cl.rng.IntN(5) == 0) }},
	}
	if cl.idle {
		choices = append(choices, choice{3, cl.opIdle})
	}
	if !v.readOnly {
		choices = append(choices, choice{22, cl.opStore}, choice{6, cl.opExpunge})
		if cl.move {
			choices = append(choices, choice{5, cl.opMove})
		}
	}
	total := 0
	for _, c := range choices {
		total += c.weight
	}
	r := cl.rng.IntN(total)
	for _, c := range choices {
		if r < c.weight {
			c.op(v)
			return
		}
		r -= c.weight
	}
}

// pickMailbox returns one of -mailboxes.
func (cl *stressClient) pickMailbox() string {
	return cl.cfg.mailboxes[cl.rng.IntN(len(cl.cfg.mailboxes))]
}

// pickTarget returns a mailbox to add messages to that is not over
// -max-messages as far as anyone saw, or "" when all are.
func (cl *stressClient) pickTarget(exclude string) string {
	var ok []string
	for _, name := range cl.cfg.mailboxes {
		if name != exclude && cl.world.size(cl.user.name, name) < cl.cfg.maxMessages {
			ok = append(ok, name)
		}
	}
	if len(ok) == 0 {
		return ""
	}
	return ok[cl.rng.IntN(len(ok))]
}

// raceOrFail handles a NO to a command naming messages (uids; all true
// when every target's UID was known): legitimate when another session
// expunged one of them, which the server says with [EXPUNGEISSUED] or
// shows by the EXPUNGE a NOOP then brings (RFC 2180 §4.1). Anything else
// is recorded as an error.
func (cl *stressClient) raceOrFail(name string, err error, uids []uint32, all bool) {
	var ie *imap.Error
	if !errors.As(err, &ie) || ie.Type != imap.StatusResponseTypeNo {
		cl.fail(name, err)
		return
	}
	if ie.Code == "EXPUNGEISSUED" {
		cl.rec.race()
		return
	}
	before := cl.m.expungeCount()
	if cl.opNoop(cl.m.view()) != nil {
		return
	}
	gone := cl.m.expungeCount() > before
	if all {
		gone = len(cl.m.has(uids)) < len(uids)
	}
	if gone {
		cl.rec.race()
		return
	}
	cl.fail(name, err)
}

// ---- commands ----

// opSelect selects (or examines) a mailbox and fetches UID and FLAGS of
// every message, as a client synchronising does.
func (cl *stressClient) opSelect(name string, readOnly bool) {
	verb := "SELECT"
	if readOnly {
		verb = "EXAMINE"
	}
	tick := cl.world.now()
	before := cl.world.maxUIDs(cl.user.name, name)
	cl.m.beginSelect(name, readOnly, tick)
	c := cl.c
	var data *imap.SelectData
	err := cl.cmd(verb, false, cl.cfg.hang, func() error {
		var err error
		data, err = c.Select(name, &imap.SelectOptions{ReadOnly: readOnly}).Wait()
		return err
	})
	if err == errGone {
		return
	}
	if err != nil {
		cl.m.endSelect(false, 0, 0, nil)
		cl.fail(verb, err)
		return
	}
	cl.m.endSelect(true, data.UIDValidity, uint32(data.UIDNext), before)
	if data.NumMessages > 0 {
		cl.fetch(imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{UID: true, Flags: true}, nil, false)
	}
}

// fetch sends FETCH (or UID FETCH for a UIDSet) and reads the reply.
func (cl *stressClient) fetch(set imap.NumSet, opts *imap.FetchOptions, uids []uint32, all bool) {
	_, byUID := set.(imap.UIDSet)
	c := cl.c
	err := cl.cmd("FETCH", !byUID, cl.cfg.hang, func() error {
		return c.Fetch(set, opts).Close()
	})
	if err != nil && err != errGone {
		cl.raceOrFail("FETCH", err, uids, all)
	}
}

// pickMsgs returns up to n distinct messages with known UIDs, as
// sequence numbers and UIDs.
func (cl *stressClient) pickMsgs(v modelView, n int) ([]uint32, []uint32) {
	var known []int
	for i, e := range v.msgs {
		if e.uid != 0 {
			known = append(known, i)
		}
	}
	cl.rng.Shuffle(len(known), func(i, j int) { known[i], known[j] = known[j], known[i] })
	known = known[:min(n, len(known))]
	slices.Sort(known)
	seqs, uids := make([]uint32, len(known)), make([]uint32, len(known))
	for k, i := range known {
		seqs[k], uids[k] = uint32(i+1), v.msgs[i].uid
	}
	return seqs, uids
}

// numSet returns the UIDs as a UID set, or the sequence numbers.
func numSet(byUID bool, seqs, uids []uint32) imap.NumSet {
	if byUID {
		var s imap.UIDSet
		for _, u := range uids {
			s.AddNum(imap.UID(u))
		}
		return s
	}
	return imap.SeqSetNum(seqs...)
}

// opFetch fetches FLAGS and UID of a few messages (by sequence number or
// UID; the unknown ones first), sometimes with ENVELOPE or BODY.PEEK[].
func (cl *stressClient) opFetch(v modelView) {
	if len(v.msgs) == 0 {
		cl.opNoop(v)
		return
	}
	opts := &imap.FetchOptions{UID: true, Flags: true}
	switch r := cl.rng.IntN(100); {
	case r < 15:
		opts.Envelope = true
	case r < 22:
		opts.BodySection = []*imap.FetchItemBodySection{{Peek: true}}
	}
	var unknown []uint32
	for i, e := range v.msgs {
		if e.uid == 0 || e.flags == nil {
			unknown = append(unknown, uint32(i+1))
		}
	}
	if opts.BodySection != nil {
		seqs, uids := cl.pickMsgs(v, 1)
		if len(seqs) == 0 {
			opts.BodySection = nil
		} else {
			byUID := cl.rng.IntN(2) == 0
			cl.fetch(numSet(byUID, seqs, uids), opts, uids, true)
			return
		}
	}
	switch {
	case len(unknown) > 0 && cl.rng.IntN(2) == 0:
		cl.fetch(imap.SeqSetNum(unknown[:min(len(unknown), 100)]...), opts, nil, false)
	case cl.rng.IntN(2) == 0:
		a := 1 + cl.rng.IntN(len(v.msgs))
		b := min(len(v.msgs), a+cl.rng.IntN(20))
		var set imap.SeqSet
		set.AddRange(uint32(a), uint32(b))
		var uids []uint32
		all := true
		for i := a - 1; i < b; i++ {
			uids = append(uids, v.msgs[i].uid)
			all = all && v.msgs[i].uid != 0
		}
		cl.fetch(set, opts, uids, all)
	default:
		seqs, uids := cl.pickMsgs(v, 1+cl.rng.IntN(5))
		if len(seqs) == 0 {
			cl.fetch(imap.SeqSetNum(unknown[:min(len(unknown), 100)]...), opts, nil, false)
			return
		}
		cl.fetch(numSet(true, seqs, uids), opts, uids, true)
	}
}

// opStore changes flags of a few messages: mostly the client's own
// keywords, sometimes system flags, \Deleted, or a replace; sometimes
// .SILENT; by UID or sequence number.
func (cl *stressClient) opStore(v modelView) {
	seqs, uids := cl.pickMsgs(v, 1+cl.rng.IntN(4))
	if len(seqs) == 0 {
		cl.opAppend()
		return
	}
	op := imap.StoreFlagsAdd
	if cl.rng.IntN(2) == 0 {
		op = imap.StoreFlagsDel
	}
	var flags []imap.Flag
	switch r := cl.rng.IntN(100); {
	case r < 60:
		flags = append(flags, cl.keywords[cl.rng.IntN(len(cl.keywords))])
		if cl.rng.IntN(4) == 0 {
			flags = append(flags, cl.keywords[cl.rng.IntN(len(cl.keywords))])
		}
	case r < 85:
		flags = append(flags, stressSystemFlags[cl.rng.IntN(len(stressSystemFlags))])
	case r < 93:
		op, flags = imap.StoreFlagsAdd, []imap.Flag{imap.FlagDeleted}
	case r < 96:
		op, flags = imap.StoreFlagsDel, []imap.Flag{imap.FlagDeleted}
	default:
		op, flags = imap.StoreFlagsSet, []imap.Flag{cl.keywords[cl.rng.IntN(len(cl.keywords))]}
		if cl.rng.IntN(2) == 0 {
			flags = append(flags, imap.FlagSeen)
		}
	}
	cl.store(v, seqs, uids, op, flags, cl.rng.IntN(10) < 3, cl.rng.IntN(10) < 7)
}

// store sends one STORE, with the world told before and after.
func (cl *stressClient) store(v modelView, seqs, uids []uint32, op imap.StoreFlagsOp, flags []imap.Flag, silent, byUID bool) {
	canon := make([]string, 0, len(flags))
	for _, f := range flags {
		if c := canonFlag(string(f)); !slices.Contains(canon, c) {
			canon = append(canon, c)
		}
	}
	opc := map[imap.StoreFlagsOp]byte{imap.StoreFlagsAdd: '+', imap.StoreFlagsDel: '-', imap.StoreFlagsSet: '='}[op]
	sw := cl.world.beginStore(v.key, cl.id, uids, opc, canon)
	c := cl.c
	set := numSet(byUID, seqs, uids)
	err := cl.cmd("STORE", !byUID, cl.cfg.hang, func() error {
		return c.Store(set, &imap.StoreFlags{Op: op, Silent: silent, Flags: flags}, nil).Close()
	})
	switch {
	case err == nil && cl.m.isBroken():
		// A check failed during the STORE: which messages it changed
		// is not certain.
		cl.world.endStore(sw, storeFailed)
	case err == nil:
		cl.world.endStore(sw, storeOK)
		cl.m.applyStore(uids, opc, canon, silent)
	case err == errGone:
		cl.world.endStore(sw, storeInterrupted)
	default:
		cl.world.endStore(sw, storeFailed)
		cl.m.forgetFlags(uids)
		cl.raceOrFail("STORE", err, uids, true)
	}
}

// opExpunge marks a few messages \Deleted and expunges them: with UID
// EXPUNGE when the server has UIDPLUS (half the time), else with EXPUNGE
// (which also removes what other sessions marked).
func (cl *stressClient) opExpunge(v modelView) {
	seqs, uids := cl.pickMsgs(v, 1+cl.rng.IntN(3))
	if cl.uidPlus && len(uids) > 0 && cl.rng.IntN(2) == 0 {
		cl.store(v, seqs, uids, imap.StoreFlagsAdd, []imap.Flag{imap.FlagDeleted}, true, true)
		if cl.c != nil {
			cl.expunge(uids)
		}
		return
	}
	if len(uids) > 0 && cl.rng.IntN(10) < 6 {
		cl.store(v, seqs, uids, imap.StoreFlagsAdd, []imap.Flag{imap.FlagDeleted}, cl.rng.IntN(2) == 0, cl.rng.IntN(2) == 0)
	}
	if cl.c != nil {
		cl.expunge(nil)
	}
}

// opCleanup keeps the mailbox under -max-messages: it marks up to 50 of
// the oldest messages \Deleted and expunges them.
func (cl *stressClient) opCleanup(v modelView) {
	var seqs, uids []uint32
	for i, e := range v.msgs {
		if len(seqs) == min(50, len(v.msgs)-cl.cfg.maxMessages/2) {
			break
		}
		if e.uid != 0 {
			seqs, uids = append(seqs, uint32(i+1)), append(uids, e.uid)
		}
	}
	if len(uids) == 0 {
		cl.opFetch(v)
		return
	}
	cl.store(v, seqs, uids, imap.StoreFlagsAdd, []imap.Flag{imap.FlagDeleted}, true, true)
	if cl.c == nil {
		return
	}
	if cl.uidPlus {
		cl.expunge(uids)
	} else {
		cl.expunge(nil)
	}
}

// expunge sends UID EXPUNGE uids, or EXPUNGE when uids is nil.
func (cl *stressClient) expunge(uids []uint32) {
	c := cl.c
	name := "EXPUNGE"
	if uids != nil {
		name = "UID EXPUNGE"
	}
	err := cl.cmd(name, false, cl.cfg.hang, func() error {
		if uids == nil {
			return c.Expunge().Close()
		}
		return c.UIDExpunge(numSet(true, nil, uids).(imap.UIDSet)).Close()
	})
	if err != nil && err != errGone {
		cl.fail(name, err)
	}
}

// opAppend appends a small generated message to one of the mailboxes,
// sometimes with flags, and checks the APPENDUID.
func (cl *stressClient) opAppend() {
	target := cl.pickTarget("")
	if target == "" {
		cl.opNoop(cl.m.view())
		return
	}
	cl.msgN++
	msgID, msg := cl.genMessage()
	var flags []imap.Flag
	if cl.rng.IntN(10) < 4 {
		flags = append(flags, imap.FlagSeen)
		if cl.rng.IntN(2) == 0 {
			flags = append(flags, cl.keywords[cl.rng.IntN(len(cl.keywords))])
		}
		if cl.rng.IntN(3) == 0 {
			flags = append(flags, imap.FlagFlagged)
		}
	}
	start := cl.world.now()
	before := cl.world.maxUIDs(cl.user.name, target)
	c := cl.c
	var data *imap.AppendData
	err := cl.cmd("APPEND", false, cl.cfg.hang, func() error {
		cmd := c.Append(target, int64(len(msg)), &imap.AppendOptions{Flags: flags})
		if _, err := cmd.Write(msg); err != nil {
			cmd.Close()
			return err
		}
		if err := cmd.Close(); err != nil {
			return err
		}
		var err error
		data, err = cmd.Wait()
		return err
	})
	if err != nil {
		if err != errGone {
			cl.fail("APPEND", err)
		}
		return
	}
	cl.world.addSize(cl.user.name, target, 1)
	if data.UID == 0 {
		return // no UIDPLUS
	}
	k := boxKey{cl.user.name, target, data.UIDValidity}
	uid := uint32(data.UID)
	cl.checkAssigned("APPEND", k, before, uid)
	if old := cl.world.observeIdentity(k, uid, msgID); old != "" {
		cl.rec.inconsistency(cl.id, target, "APPEND", checkUIDReused, fmt.Sprintf("APPENDUID %d is a new UID", uid), fmt.Sprintf("UID %d was message %s", uid, old), nil)
	}
	canon := make([]string, len(flags))
	for i, f := range flags {
		canon[i] = canonFlag(string(f))
	}
	cl.world.recordFlags(k, cl.id, uid, canon, start)
}

// checkAssigned checks a UID the server assigned (APPENDUID, COPYUID)
// against every UID observed in that mailbox before the command was sent.
func (cl *stressClient) checkAssigned(command string, k boxKey, before map[uint32]uint32, uid uint32) {
	cl.rec.countCheck(checkAssignedUID)
	if floor := before[k.uidValidity]; uid <= floor {
		cl.rec.inconsistency(cl.id, k.name, command, checkAssignedUID, fmt.Sprintf("a UID above %d (seen before the command)", floor), fmt.Sprintf("UID %d", uid), nil)
	}
	cl.world.observeUID(k, uid)
}

// opCopy copies a few messages to one of the mailboxes (possibly the
// selected one) and checks the COPYUID.
func (cl *stressClient) opCopy(v modelView) {
	var data *imap.CopyData
	dest, before, ok := cl.transfer(v, "COPY", "", func(c *imapclient.Client, set imap.NumSet, dest string) (err error) {
		data, err = c.Copy(set, dest).Wait()
		return err
	})
	if ok {
		cl.copied("COPY", v.key, dest, data.UIDValidity, data.SourceUIDs, data.DestUIDs, before)
	}
}

// transfer is what COPY and MOVE share: it picks a few messages of v and a
// destination other than exclude (falling back to FETCH when there is
// none), sends command with send, and handles its failure. It returns the
// destination and its highest UIDs before the command; ok is false when
// the command was not sent or did not succeed.
func (cl *stressClient) transfer(v modelView, command, exclude string, send func(c *imapclient.Client, set imap.NumSet, dest string) error) (dest string, before map[uint32]uint32, ok bool) {
	seqs, uids := cl.pickMsgs(v, 1+cl.rng.IntN(3))
	dest = cl.pickTarget(exclude)
	if len(seqs) == 0 || dest == "" {
		cl.opFetch(v)
		return "", nil, false
	}
	byUID := cl.rng.IntN(10) < 7
	before = cl.world.maxUIDs(cl.user.name, dest)
	c := cl.c
	err := cl.cmd(command, false, cl.cfg.hang, func() error {
		return send(c, numSet(byUID, seqs, uids), dest)
	})
	if err == errGone {
		return "", nil, false
	}
	if err != nil {
		cl.raceOrFail(command, err, uids, true)
		return "", nil, false
	}
	cl.world.addSize(cl.user.name, dest, len(uids))
	return dest, before, true
}

// copied checks a COPYUID response code and carries the Message-IDs
// known of the sources over to the copies.
func (cl *stressClient) copied(command string, src boxKey, dest string, validity uint32, srcSet, dstSet imap.UIDSet, before map[uint32]uint32) {
	if validity == 0 {
		return
	}
	srcs, ok1 := srcSet.Nums()
	dsts, ok2 := dstSet.Nums()
	if !ok1 || !ok2 || len(srcs) != len(dsts) {
		cl.rec.inconsistency(cl.id, dest, command, "copyuid", "COPYUID with as many source as destination UIDs", fmt.Sprintf("COPYUID %d %s %s", validity, srcSet, dstSet), nil)
		return
	}
	k := boxKey{cl.user.name, dest, validity}
	for i, d := range dsts {
		cl.checkAssigned(command, k, before, uint32(d))
		if id := cl.world.identity(src, uint32(srcs[i])); id != "" {
			if old := cl.world.observeIdentity(k, uint32(d), id); old != "" {
				cl.rec.inconsistency(cl.id, dest, command, checkUIDReused, fmt.Sprintf("COPYUID gives a new UID %d", d), fmt.Sprintf("UID %d was message %s", d, old), nil)
			}
		}
	}
}

// opMove moves a few messages to another mailbox; the EXPUNGEs for them
// must come before the OK.
func (cl *stressClient) opMove(v modelView) {
	var data *imapclient.MoveData
	dest, before, ok := cl.transfer(v, "MOVE", v.mailbox, func(c *imapclient.Client, set imap.NumSet, dest string) (err error) {
		data, err = c.Move(set, dest).Wait()
		return err
	})
	if !ok {
		return
	}
	src, _ := data.SourceUIDs.(imap.UIDSet)
	dst, _ := data.DestUIDs.(imap.UIDSet)
	if moved, ok := src.Nums(); ok && data.UIDValidity != 0 {
		// Only the UIDs COPYUID names: a target another session
		// expunged just before was not moved, and its EXPUNGE may wait.
		u := make([]uint32, len(moved))
		for i, x := range moved {
			u[i] = uint32(x)
		}
		cl.m.checkMoved(u)
	}
	cl.copied("MOVE", v.key, dest, data.UIDValidity, src, dst, before)
}

// opIdle idles for up to -idle, then sends DONE.
func (cl *stressClient) opIdle(modelView) {
	d := cl.cfg.idle/2 + time.Duration(cl.rng.Int64N(int64(cl.cfg.idle/2)+1))
	d = max(min(d, time.Until(cl.deadline)), 10*time.Millisecond)
	c := cl.c
	err := cl.cmd("IDLE", false, cl.cfg.hang+d, func() error {
		idle, err := c.Idle()
		if err != nil {
			return err
		}
		time.Sleep(d)
		// Close only sends DONE (imapclient beta.8); Wait reads the
		// rest of IDLE's responses and its tagged reply, which must come
		// before the next command's sequence numbers are chosen.
		if err := idle.Close(); err != nil {
			return err
		}
		return idle.Wait()
	})
	if err != nil && err != errGone {
		cl.fail("IDLE", err)
	}
}

// opNoop sends NOOP; when it succeeds in a selected mailbox, every
// message's flags must show the STOREs completed before it was sent.
func (cl *stressClient) opNoop(v modelView) error {
	t0 := cl.world.now()
	c := cl.c
	err := cl.cmd("NOOP", false, cl.cfg.hang, func() error { return c.Noop().Wait() })
	switch {
	case err == nil:
		cl.m.checkFlags(t0)
	case err != errGone:
		cl.fail("NOOP", err)
	}
	return err
}

// genMessage returns a small message with a unique Message-ID (CRLF
// line ends).
func (cl *stressClient) genMessage() (msgID string, msg []byte) {
	msgID = fmt.Sprintf("<stress.%x.%d.%d@mailbench.test>", cl.cfg.runID, cl.id, cl.msgN)
	var b strings.Builder
	fmt.Fprintf(&b, "From: Mailbench client %d <c%d@mailbench.test>\r\n", cl.id, cl.id)
	fmt.Fprintf(&b, "To: %s\r\n", cl.user.name)
	fmt.Fprintf(&b, "Subject: imap-stress client %d message %d\r\n", cl.id, cl.msgN)
	fmt.Fprintf(&b, "Date: %s\r\n", time.Now().Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: %s\r\n", msgID)
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
	for range 1 + cl.rng.IntN(20) {
		for w := range 1 + cl.rng.IntN(12) {
			if w > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(genWords[cl.rng.IntN(len(genWords))])
		}
		b.WriteString("\r\n")
	}
	return msgID, []byte(b.String())
}
