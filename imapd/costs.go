package imapd

import (
	"errors"
	"fmt"
	"time"

	imap "github.com/emersion/go-imap/v2"
)

// costs are a Server's bounds on busy commands (busygate.go) and on the
// message data commands hold (memory.go).
type costs struct {
	gate *busyGate
	mem  *memBudget
}

// newCosts returns the bounds cfg sets.
func newCosts(cfg *Config) *costs {
	return &costs{
		gate: newBusyGate(cfg.MaxBusyCommandsPerUser, cfg.MaxBusyCommands),
		mem:  &memBudget{limit: cfg.MaxTotalCommandMemory},
	}
}

// costs returns the Server's costs.
func (s *Server) costs() *costs { return s.cost }

// busyCmd is a busy command running: its slot and its memory.
type busyCmd struct {
	mem   cmdMemory
	leave func()
}

// end frees the slot and the memory.
func (b *busyCmd) end() {
	b.mem.giveBack(0)
	b.leave()
}

// beginBusy waits in line for a slot to run a busy command (see
// busygate.go). Waiting too long gives NO [LIMIT]; a client that goes
// away meanwhile (a wait notice cannot be written) has its connection
// closed.
func (s *session) beginBusy() (*busyCmd, error) {
	c := s.srv.costs()
	start := time.Now()
	leave, err := c.gate.enter(s.user, start.Add(s.srv.cfg.BusyWait), s.waitNotice)
	if err != nil {
		var be busyError
		if errors.As(err, &be) {
			s.log.Warn("busy command refused after waiting in line", "per_user", be.perUser, "waited", time.Since(start).Round(time.Millisecond))
			text := "Too many searches and fetches running on the server, try again later"
			if be.perUser {
				text = fmt.Sprintf("Too many searches and fetches of this account running (at most %d at once), try again later", s.srv.cfg.MaxBusyCommandsPerUser)
			}
			return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeLimit, Text: text}
		}
		s.log.Info("client gone while waiting in line, closing", "err", err)
		_ = s.conn.NetConn().Close()
		return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Text: "Connection lost"}
	}
	if d := time.Since(start); d > busyNoticeInterval {
		s.log.Info("busy command waited in line", "waited", d.Round(time.Millisecond))
	}
	return &busyCmd{mem: cmdMemory{limit: s.srv.cfg.MaxCommandMemory, total: c.mem}, leave: leave}, nil
}

// waitNotice tells the client its command waits in line. Like the IDLE
// keepalive it writes straight to the connection: the command has
// written nothing yet, and go-imap flushes every response it writes.
func (s *session) waitNotice() error {
	nc := s.conn.NetConn()
	if err := nc.SetWriteDeadline(time.Now().Add(keepaliveWriteTimeout)); err != nil {
		return err
	}
	_, err := nc.Write([]byte("* OK Waiting for other searches or fetches to finish\r\n"))
	if derr := nc.SetWriteDeadline(time.Time{}); err == nil {
		err = derr
	}
	return err
}

// fetchIsBusy reports whether a FETCH reads message files or the header
// cache (anything but UID, FLAGS, INTERNALDATE and RFC822.SIZE, which
// come from memory).
func fetchIsBusy(o *imap.FetchOptions) bool {
	return o.Envelope || o.BodyStructure != nil || len(o.BodySection) > 0 ||
		len(o.BinarySection) > 0 || len(o.BinarySectionSize) > 0
}
