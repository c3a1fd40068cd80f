package pop3d

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// message resolves a message-number argument to a message of the
// snapshot that is not marked deleted.
func (c *conn) message(arg string) (int, *dropMessage, error) {
	n, err := strconv.ParseUint(arg, 10, 31)
	if err != nil {
		return 0, nil, perr("", "Invalid message number %.20q", arg)
	}
	if n < 1 || n > uint64(len(c.drop.msgs)) {
		return 0, nil, perr("", "No such message")
	}
	m := &c.drop.msgs[n-1]
	if m.deleted {
		return 0, nil, perr("", "Message %d already deleted", n)
	}
	return int(n), m, nil
}

// cmdStat answers the count and size of the maildrop (RFC 1939 §5).
func (c *conn) cmdStat(args []string) error {
	count, size := c.drop.stat()
	c.replyf("%d %d", count, size)
	return nil
}

// cmdList lists message sizes, or one message's (RFC 1939 §5).
func (c *conn) cmdList(args []string) error {
	if len(args) == 1 {
		n, m, err := c.message(args[0])
		if err != nil {
			return err
		}
		c.replyf("%d %d", n, m.size)
		return nil
	}
	count, size := c.drop.stat()
	c.multiline(fmt.Sprintf("%d messages (%d octets)", count, size), func(w io.Writer) error {
		var buf []byte
		for i := range c.drop.msgs {
			if m := &c.drop.msgs[i]; !m.deleted {
				buf = strconv.AppendInt(buf[:0], int64(i+1), 10)
				buf = append(buf, ' ')
				buf = strconv.AppendInt(buf, m.size, 10)
				buf = append(buf, '\r', '\n')
				w.Write(buf)
			}
		}
		return nil
	})
	return nil
}

// cmdUidl lists unique ids, or one message's (RFC 1939 §7).
func (c *conn) cmdUidl(args []string) error {
	if len(args) == 1 {
		n, m, err := c.message(args[0])
		if err != nil {
			return err
		}
		c.replyf("%d %s", n, c.drop.uidl(m))
		return nil
	}
	c.multiline("Unique-ID listing follows", func(w io.Writer) error {
		for i := range c.drop.msgs {
			if m := &c.drop.msgs[i]; !m.deleted {
				fmt.Fprintf(w, "%d "+uidlFormat+"\r\n", i+1, m.uid, c.drop.uidValidity)
			}
		}
		return nil
	})
	return nil
}

// cmdRetr sends a whole message (RFC 1939 §5) and queues \Seen for it.
func (c *conn) cmdRetr(args []string) error {
	_, m, err := c.message(args[0])
	if err != nil {
		return err
	}
	rc, _, err := c.drop.folder.Open(m.uid)
	if err != nil {
		return fmt.Errorf("open UID %d: %w", m.uid, err)
	}
	defer rc.Close()
	if c.copyBuf == nil {
		c.copyBuf = make([]byte, copyBufferSize)
	}
	c.multiline(fmt.Sprintf("%d octets", m.size), func(w io.Writer) error {
		_, err := io.CopyBuffer(w, rc, c.copyBuf)
		return err
	})
	if !c.quit {
		c.drop.markSeen(m)
	}
	return nil
}

// cmdTop sends the header block and the first n body lines (RFC 1939 §7).
// A count larger than the body sends the whole message.
func (c *conn) cmdTop(args []string) error {
	_, m, err := c.message(args[0])
	if err != nil {
		return err
	}
	lines, err := strconv.ParseUint(args[1], 10, 64)
	if errors.Is(err, strconv.ErrRange) {
		lines = ^uint64(0)
	} else if err != nil {
		return perr("", "Invalid line count %.20q", args[1])
	}
	rc, _, err := c.drop.folder.Open(m.uid)
	if err != nil {
		return fmt.Errorf("open UID %d: %w", m.uid, err)
	}
	defer rc.Close()
	c.multiline("Top of message follows", func(w io.Writer) error {
		return copyTop(w, bufio.NewReaderSize(rc, 32<<10), lines)
	})
	return nil
}

// cmdDele marks a message for deletion at QUIT (RFC 1939 §5).
func (c *conn) cmdDele(args []string) error {
	n, m, err := c.message(args[0])
	if err != nil {
		return err
	}
	m.deleted = true
	c.replyf("Message %d deleted", n)
	return nil
}

// cmdRset unmarks every deleted message (RFC 1939 §5).
func (c *conn) cmdRset(args []string) error {
	for i := range c.drop.msgs {
		c.drop.msgs[i].deleted = false
	}
	count, size := c.drop.stat()
	c.replyf("Maildrop has %d messages (%d octets)", count, size)
	return nil
}

// cmdNoop does nothing (RFC 1939 §5).
func (c *conn) cmdNoop(args []string) error {
	c.reply("")
	return nil
}

// cmdQuit ends the session. In TRANSACTION it first enters the UPDATE
// state (RFC 1939 §6): the marked messages are removed durably, the
// maildrop lock released, and +OK is sent only after that.
func (c *conn) cmdQuit(args []string) error {
	c.quit = true
	if c.state != stateTransaction {
		c.reply("Bye")
		return nil
	}
	c.flushSeen()
	removed, err := c.drop.update(nil)
	// The maildrop is released before the reply, so a client that logs in
	// again the moment it reads +OK does not find it still locked.
	c.s.unlockUser(c.user, c)
	if err != nil {
		c.log.Error("update failed", "err", err)
		return perr("SYS/TEMP", "Some deleted messages not removed")
	}
	if removed > 0 {
		c.log.Info("maildrop updated", "removed", removed, "household", c.drop.household)
	}
	c.replyf("Bye, %d messages removed", removed)
	return nil
}

// flushSeen applies queued \Seen flags; a failure is logged only, since
// the messages were already sent.
func (c *conn) flushSeen() {
	if c.drop == nil {
		return
	}
	if err := c.drop.flushSeen(nil); err != nil {
		c.log.Warn("could not set \\Seen", "err", err)
	}
}
