package smtpd

import (
	"context"
	"errors"
	"io"
	"net"
	"time"

	"github.com/emersion/go-smtp"
)

// deliverTimeout bounds the durable delivery of one accepted message.
const deliverTimeout = 5 * time.Minute

// Data receives the message (DATA or BDAT), checks it, adds the trace
// headers and delivers it; the reply go-smtp sends is 250 only once every
// copy is durable (in the recipients' INBOX, or in the outbound queue).
func (s *session) Data(r io.Reader) error {
	s.tc.setBusy(true)
	defer s.tc.setBusy(false)
	s.act.Begin("DATA")
	defer s.act.End()
	qid := newID()
	log := s.log.With("qid", qid)

	sp := newSpool()
	defer sp.close()
	var guard newlineGuard
	_, err := io.Copy(io.MultiWriter(sp, &guard), &deadlineReader{r: r, conn: s.conn.Conn(), timeout: time.Duration(s.srv.cfg.DataTimeout)})
	if err != nil {
		interrupted := !errors.Is(err, smtp.ErrDataTooLarge) && !errors.Is(err, smtp.ErrTooLongLine) &&
			!errors.Is(err, smtp.ErrDataReset)
		if interrupted || s.tc.readTimedOut.Load() {
			// A client silent or gone in the middle of a message: the
			// rest of the stream can no longer be told apart from
			// commands, so the connection ends here.
			log.Info("message data interrupted; closing", "err", err, "bytes", sp.size)
			s.conn.Close()
		}
		return reply(log, "message data", err)
	}
	if !guard.clean() {
		log.Warn("message refused: bare CR or LF (SMTP smuggling guard)", "bytes", sp.size)
		return replyBareNewline
	}
	msg := &message{id: qid, from: s.from, rcpts: s.rcpts, body: sp, received: time.Now()}
	if s.srv.submission {
		added, err := s.submissionHeaders(sp.reader())
		if err != nil {
			return reply(log, "message header", err)
		}
		msg.added = added
	}
	ctx, cancel := context.WithTimeout(context.Background(), deliverTimeout)
	defer cancel()
	if !s.srv.submission {
		s.act.Begin("DATA: verifying sender")
		if err := s.verifySender(ctx, log, msg); err != nil { // verify.go
			return err
		}
	}
	s.act.Begin("DATA: delivering")
	if err := s.deliver(ctx, log, msg); err != nil {
		return err
	}
	s.messages++
	return nil
}

// deadlineReader renews the connection's read deadline before every read
// of message data, so a client may send a large message slowly but not
// stall in the middle of one for longer than the data timeout.
type deadlineReader struct {
	r       io.Reader
	conn    net.Conn
	timeout time.Duration
}

func (d *deadlineReader) Read(p []byte) (int, error) {
	d.conn.SetReadDeadline(time.Now().Add(d.timeout))
	return d.r.Read(p)
}
