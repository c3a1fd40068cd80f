package main

// The shared knowledge of imap-stress: what every simulated session has
// observed about each mailbox, so one session's view can be checked
// against facts another session established. Every fact carries the
// logical time (a counter, tick) at which it was observed, and a check
// only uses facts observed before the checked command was sent, so
// concurrency cannot produce a false report:
//
//   - UIDs: the highest UID anyone observed per mailbox and UIDVALIDITY
//     (a UID assigned later, by APPEND or COPY, must be above it), the UIDs
//     observed expunged (a fresh SELECT must not show them), and the
//     Message-ID each UID carried (a UID never names two messages).
//   - Flags: for every message and flag the outcome of the last STORE that
//     changed it, when that outcome is certain: the STORE completed with
//     OK and no other STORE of the same flag on the same message, nor a
//     replace STORE (FLAGS (...), which sets every flag) of the message,
//     overlapped it in time. Overlapping, failed or interrupted STOREs make
//     the flag unknown until the next certain one.

import (
	"slices"
	"strings"
	"sync"
)

// boxKey names a mailbox incarnation: one user's mailbox with one
// UIDVALIDITY.
type boxKey struct {
	user, name  string
	uidValidity uint32
}

// stressWorld is what all sessions observed; safe for concurrent use.
// Lock order: a sessionModel's lock, then the world's.
type stressWorld struct {
	mu       sync.Mutex
	tick     uint64
	boxes    map[boxKey]*worldBox
	validity map[[2]string]uint32 // user, mailbox → first UIDVALIDITY seen
	sizes    map[[2]string]int    // user, mailbox → last message count seen
}

// worldBox is what was observed of one mailbox incarnation.
type worldBox struct {
	maxUID   uint32
	expunged map[uint32]uint64 // UID → tick it was first seen expunged
	ids      map[uint32]string // UID → Message-ID
	flags    map[uint32]*msgFlags
}

// msgFlags is the knowledge of one message's flags.
type msgFlags struct {
	// replacing counts replace STOREs (FLAGS (...)) in flight and
	// replaced is the latest tick one was answered: a replace sets every
	// flag of the message, also those no STORE named before.
	replacing int
	replaced  uint64
	poisoned  bool // an interrupted replace may still apply any time
	f         map[string]*flagState
}

// flagState is the knowledge of one flag of one message.
type flagState struct {
	present  bool   // the outcome of the last certain STORE
	known    bool   // present is certain
	poisoned bool   // a STORE was interrupted: it may still apply any time
	inflight int    // STOREs sent and not answered yet
	writer   int    // client of the last certain STORE
	end      uint64 // tick its OK was seen
	lastEnd  uint64 // latest tick any STORE of this flag was answered
}

// flagExpectation is one flag a session must show on a message.
type flagExpectation struct {
	flag    string
	present bool
	writer  int
}

// newStressWorld returns an empty world.
func newStressWorld() *stressWorld {
	return &stressWorld{
		boxes:    map[boxKey]*worldBox{},
		validity: map[[2]string]uint32{},
		sizes:    map[[2]string]int{},
	}
}

// now advances and returns the logical clock.
func (w *stressWorld) now() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.tick++
	return w.tick
}

// box returns the record of k, creating it. Called with w.mu held.
func (w *stressWorld) box(k boxKey) *worldBox {
	b := w.boxes[k]
	if b == nil {
		b = &worldBox{expunged: map[uint32]uint64{}, ids: map[uint32]string{}, flags: map[uint32]*msgFlags{}}
		w.boxes[k] = b
	}
	return b
}

// maxUIDs returns, per UIDVALIDITY, the highest UID observed so far in a
// user's mailbox: the floor for UIDs assigned by a command sent after.
func (w *stressWorld) maxUIDs(user, name string) map[uint32]uint32 {
	w.mu.Lock()
	defer w.mu.Unlock()
	m := map[uint32]uint32{}
	for k, b := range w.boxes {
		if k.user == user && k.name == name {
			m[k.uidValidity] = b.maxUID
		}
	}
	return m
}

// observeUID records that a message with uid exists (or existed) in k.
func (w *stressWorld) observeUID(k boxKey, uid uint32) {
	w.mu.Lock()
	defer w.mu.Unlock()
	b := w.box(k)
	b.maxUID = max(b.maxUID, uid)
}

// observeExpunge records that uid was expunged from k. Its flag
// knowledge is dropped: nobody checks an expunged message.
func (w *stressWorld) observeExpunge(k boxKey, uid uint32) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.tick++
	b := w.box(k)
	if _, ok := b.expunged[uid]; !ok {
		b.expunged[uid] = w.tick
	}
	delete(b.flags, uid)
}

// unexpunge forgets that uid was seen expunged from k (a fresh SELECT
// shows it: the server says otherwise).
func (w *stressWorld) unexpunge(k boxKey, uid uint32) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if b := w.boxes[k]; b != nil {
		delete(b.expunged, uid)
	}
}

// expungedBefore reports whether uid was seen expunged from k before tick t.
func (w *stressWorld) expungedBefore(k boxKey, uid uint32, t uint64) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	b := w.boxes[k]
	if b == nil {
		return false
	}
	at, ok := b.expunged[uid]
	return ok && at < t
}

// observeIdentity records the Message-ID seen for uid in k and returns
// the different one recorded before, if any.
func (w *stressWorld) observeIdentity(k boxKey, uid uint32, id string) (conflict string) {
	if id == "" {
		return ""
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	b := w.box(k)
	if old, ok := b.ids[uid]; ok {
		if old != id {
			return old
		}
		return ""
	}
	b.ids[uid] = id
	return ""
}

// identity returns the Message-ID recorded for uid in k.
func (w *stressWorld) identity(k boxKey, uid uint32) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if b := w.boxes[k]; b != nil {
		return b.ids[uid]
	}
	return ""
}

// checkValidity records the first UIDVALIDITY seen of a mailbox and
// returns it with whether v differs.
func (w *stressWorld) checkValidity(user, name string, v uint32) (first uint32, changed bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	key := [2]string{user, name}
	first, ok := w.validity[key]
	if !ok {
		w.validity[key] = v
		return v, false
	}
	return first, first != v
}

// setSize records the last message count a session saw of a mailbox.
func (w *stressWorld) setSize(user, name string, n int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.sizes[[2]string{user, name}] = n
}

// addSize adds n to the last known message count of a mailbox (APPEND,
// COPY, MOVE into it).
func (w *stressWorld) addSize(user, name string, n int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.sizes[[2]string{user, name}] += n
}

// size is the last known message count of a mailbox.
func (w *stressWorld) size(user, name string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.sizes[[2]string{user, name}]
}

// msg returns the flag record of uid, creating it. Called with w.mu held.
func (b *worldBox) msg(uid uint32) *msgFlags {
	mf := b.flags[uid]
	if mf == nil {
		mf = &msgFlags{f: map[string]*flagState{}}
		b.flags[uid] = mf
	}
	return mf
}

// flag returns the record of one flag, creating it.
func (mf *msgFlags) flag(f string) *flagState {
	st := mf.f[f]
	if st == nil {
		st = &flagState{}
		mf.f[f] = st
	}
	return st
}

// storeWrite is one STORE in flight: the (message, flag) pairs it sets
// and the value it sets them to.
type storeWrite struct {
	key     boxKey
	writer  int
	start   uint64
	replace bool     // FLAGS (...): every flag of uids
	uids    []uint32 // the messages
	pairs   []storePair
}

// storePair is one flag of one message a STORE sets or clears.
type storePair struct {
	uid     uint32
	flag    string // canonical (lower case)
	present bool
}

// storeOutcome is how a STORE ended.
type storeOutcome int

// The ways a STORE ends.
const (
	storeOK          storeOutcome = iota // tagged OK: the values are set
	storeFailed                          // tagged NO/BAD, or the reply broke a check: some may be set
	storeInterrupted                     // no reply: may still apply later
)

// beginStore registers a STORE about to be sent by writer on uids of k:
// op is '+', '-' or '=' (replace) with flags (canonical). A replace also
// clears every other flag known of the message.
func (w *stressWorld) beginStore(k boxKey, writer int, uids []uint32, op byte, flags []string) *storeWrite {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.tick++
	sw := &storeWrite{key: k, writer: writer, start: w.tick, replace: op == '=', uids: uids}
	b := w.box(k)
	for _, uid := range uids {
		mf := b.msg(uid)
		set := map[string]bool{}
		for _, f := range flags {
			set[f] = op != '-'
		}
		if sw.replace {
			mf.replacing++
			for f := range mf.f {
				if _, ok := set[f]; !ok {
					set[f] = false
				}
			}
		}
		for f, present := range set {
			mf.flag(f).inflight++
			sw.pairs = append(sw.pairs, storePair{uid, f, present})
		}
	}
	return sw
}

// endStore records how sw ended.
func (w *stressWorld) endStore(sw *storeWrite, outcome storeOutcome) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.tick++
	b := w.box(sw.key)
	if sw.replace {
		for _, uid := range sw.uids {
			if mf := b.flags[uid]; mf != nil {
				mf.replacing--
				if outcome == storeInterrupted {
					mf.poisoned = true
				}
			}
		}
	}
	for _, p := range sw.pairs {
		mf := b.flags[p.uid]
		if mf == nil || mf.f[p.flag] == nil { // expunged meanwhile
			continue
		}
		st := mf.f[p.flag]
		st.inflight--
		switch outcome {
		case storeOK:
			if st.inflight > 0 || st.lastEnd > sw.start || mf.replacing > 0 || mf.replaced > sw.start {
				st.known = false // overlapped another STORE: order unknown
			} else {
				st.known, st.present, st.writer, st.end = true, p.present, sw.writer, w.tick
			}
		case storeFailed:
			st.known = false
		case storeInterrupted:
			st.known, st.poisoned = false, true
		}
		st.lastEnd = w.tick
	}
	if sw.replace {
		for _, uid := range sw.uids {
			if mf := b.flags[uid]; mf != nil {
				mf.replaced = w.tick
			}
		}
	}
}

// recordFlags registers the flags a message was created with (APPEND)
// as a STORE that began at start and ended now.
func (w *stressWorld) recordFlags(k boxKey, writer int, uid uint32, flags []string, start uint64) {
	if len(flags) == 0 {
		return
	}
	w.mu.Lock()
	sw := &storeWrite{key: k, writer: writer, start: start}
	b := w.box(k)
	if _, gone := b.expunged[uid]; gone {
		w.mu.Unlock()
		return
	}
	mf := b.msg(uid)
	for _, f := range flags {
		mf.flag(f).inflight++
		sw.pairs = append(sw.pairs, storePair{uid, f, true})
	}
	w.mu.Unlock()
	w.endStore(sw, storeOK)
}

// distrust makes a flag's value unknown (a session was found to disagree:
// it is reported once, not by every session).
func (w *stressWorld) distrust(k boxKey, uid uint32, flag string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if b := w.boxes[k]; b != nil {
		if mf := b.flags[uid]; mf != nil && mf.f[flag] != nil {
			mf.f[flag].known = false
		}
	}
}

// expectations returns the flags of uid in k whose value is certain and
// was established before tick t, with no STORE of them in flight: a
// session that had the mailbox selected must show them after a NOOP sent
// after t.
func (w *stressWorld) expectations(k boxKey, uid uint32, t uint64) []flagExpectation {
	w.mu.Lock()
	defer w.mu.Unlock()
	b := w.boxes[k]
	if b == nil {
		return nil
	}
	if _, gone := b.expunged[uid]; gone {
		return nil
	}
	mf := b.flags[uid]
	if mf == nil || mf.poisoned || mf.replacing > 0 {
		return nil
	}
	var out []flagExpectation
	for f, st := range mf.f {
		if st.known && !st.poisoned && st.inflight == 0 && st.end < t && st.lastEnd == st.end && mf.replaced <= st.end {
			out = append(out, flagExpectation{f, st.present, st.writer})
		}
	}
	slices.SortFunc(out, func(a, b flagExpectation) int { return strings.Compare(a.flag, b.flag) })
	return out
}
