package imapd

import (
	"runtime"
	"sync"
	"time"
)

// Busy commands are the ones whose cost grows with the mailbox and the
// messages' size: SEARCH, and FETCH of ENVELOPE, BODYSTRUCTURE, BINARY or
// body sections (the files are read). At most MaxBusyCommandsPerUser of
// one user and MaxBusyCommands in all run at once; the others wait in
// line, in arrival order, for at most BusyWait. So twenty sessions of one
// user searching at once take two CPUs' worth, not all of them, and
// other users' commands are answered meanwhile.
const (
	// DefaultMaxBusyCommandsPerUser lets a desktop client search while
	// a phone fetches, without one account taking every CPU.
	DefaultMaxBusyCommandsPerUser = 2
	// DefaultBusyWait is the longest wait in line (a client that asked
	// for more than the server can do at once gets NO [LIMIT] then).
	DefaultBusyWait = time.Minute
	// busyNoticeInterval is how often a command waiting in line tells
	// its client so ("* OK Waiting ..."; Dovecot sends "* OK Searched
	// n% of the mailbox" the same way). A notice that cannot be written
	// means the client is gone, and ends the wait.
	busyNoticeInterval = 5 * time.Second
)

// busyGate holds the slots of busy commands.
type busyGate struct {
	all     *fifoSem
	perUser int
	// notice is the interval of wait notices (busyNoticeInterval;
	// shorter in tests).
	notice time.Duration

	mu    sync.Mutex
	users map[string]*userSlots
}

// userSlots are one user's slots; refs counts the sessions holding or
// waiting for one, and the entry goes when it drops to 0.
type userSlots struct {
	sem  *fifoSem
	refs int
}

// newBusyGate returns a gate with perUser slots per user and all slots
// in total (0: twice GOMAXPROCS).
func newBusyGate(perUser, all int) *busyGate {
	if all <= 0 {
		all = 2 * runtime.GOMAXPROCS(0)
	}
	return &busyGate{all: newFIFOSem(all), perUser: perUser, notice: busyNoticeInterval, users: make(map[string]*userSlots)}
}

// busyError is enter's error after the deadline: perUser tells which
// line the command waited in for too long.
type busyError struct{ perUser bool }

func (e busyError) Error() string {
	if e.perUser {
		return "imapd: too many busy commands of this user"
	}
	return "imapd: too many busy commands on the server"
}

// enter takes one of user's slots, then one of the server's, waiting
// until deadline in each line (see fifoSem.acquire for notice). It
// returns the function that frees both, or busyError after the deadline,
// or notice's error.
func (g *busyGate) enter(user string, deadline time.Time, notice func() error) (leave func(), err error) {
	g.mu.Lock()
	u := g.users[user]
	if u == nil {
		u = &userSlots{sem: newFIFOSem(g.perUser)}
		g.users[user] = u
	}
	u.refs++
	g.mu.Unlock()
	unref := func() {
		g.mu.Lock()
		if u.refs--; u.refs == 0 {
			delete(g.users, user)
		}
		g.mu.Unlock()
	}

	if err := u.sem.acquire(deadline, g.notice, notice); err != nil {
		unref()
		if err == errWaitTimeout {
			err = busyError{perUser: true}
		}
		return nil, err
	}
	if err := g.all.acquire(deadline, g.notice, notice); err != nil {
		u.sem.release()
		unref()
		if err == errWaitTimeout {
			err = busyError{}
		}
		return nil, err
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			g.all.release()
			u.sem.release()
			unref()
		})
	}, nil
}

// state reports the slots user holds and the commands of user waiting,
// and the same for the whole server.
func (g *busyGate) state(user string) (userHeld, userWaiting, allHeld, allWaiting int) {
	g.mu.Lock()
	u := g.users[user]
	g.mu.Unlock()
	if u != nil {
		userHeld, userWaiting = u.sem.state()
	}
	allHeld, allWaiting = g.all.state()
	return userHeld, userWaiting, allHeld, allWaiting
}
