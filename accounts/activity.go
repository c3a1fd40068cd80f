package accounts

import (
	"crypto/rand"
	"encoding/hex"
	"sync"
	"sync/atomic"
	"time"
)

// BusySession describes one session of a front end still open, for the
// log of a stop that ran past its timeout. Every field is read without
// taking a lock that a session may hold.
type BusySession struct {
	// Proto is "smtp", "submission", "imap" or "pop3".
	Proto string
	// ID is the session id its log lines carry.
	ID string
	// Remote is the client's address.
	Remote string
	// User is the logged-in user; "" before login.
	User string
	// Command is what the session was doing ("FETCH", "RETR 1",
	// "DATA: delivering"); "" between commands.
	Command string
	// Since is when Command started (zero between commands).
	Since time.Time
	// Connected is when the connection was accepted (zero if unknown).
	Connected time.Time
}

// Activity is what other goroutines may read of one session without a
// lock: its user and the command it is running. Only the session's own
// goroutine writes it (each front end runs one command at a time), so a
// load, change and store of the whole state loses nothing; readers see
// one consistent state. The zero value is ready to use.
type Activity struct {
	p atomic.Pointer[activityState]
}

// activityState is one immutable snapshot of an Activity.
type activityState struct {
	user    string
	command string
	since   time.Time
}

func (a *Activity) load() activityState {
	if st := a.p.Load(); st != nil {
		return *st
	}
	return activityState{}
}

// Snapshot returns the user, the command running ("" between commands)
// and when it started.
func (a *Activity) Snapshot() (user, command string, since time.Time) {
	st := a.load()
	return st.user, st.command, st.since
}

// Begin records that cmd started now.
func (a *Activity) Begin(cmd string) {
	st := a.load()
	st.command, st.since = cmd, time.Now()
	a.p.Store(&st)
}

// End records that the session waits for its next command.
func (a *Activity) End() {
	st := a.load()
	st.command, st.since = "", time.Time{}
	a.p.Store(&st)
}

// SetUser records the logged-in user ("" after logout).
func (a *Activity) SetUser(user string) {
	st := a.load()
	st.user = user
	a.p.Store(&st)
}

// Busy returns the BusySession of a session with this activity.
func (a *Activity) Busy(proto, id, remote string, connected time.Time) BusySession {
	st := a.load()
	return BusySession{Proto: proto, ID: id, Remote: remote, User: st.user, Command: st.command, Since: st.since, Connected: connected}
}

// TryLockFor takes mu if it can within wait, retrying TryLock; it never
// blocks longer. For a listing of sessions taken when something may
// already be stuck holding mu.
func TryLockFor(mu *sync.Mutex, wait time.Duration) bool {
	deadline := time.Now().Add(wait)
	for !mu.TryLock() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(time.Millisecond)
	}
	return true
}

// NewErrorID returns a short random id (8 hex digits) for one internal
// error: the generic reply a client gets carries it, and so does the log
// line with the details, so a user can quote it to the operator.
func NewErrorID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
