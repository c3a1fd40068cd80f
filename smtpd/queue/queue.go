package queue

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"

	"postern/maildir/durable"
)

// Local is what the queue needs of the local store: recipients that are
// local accounts (the ones smtpd could not deliver to when the message
// came in, and those of submitted mail) and bounces for local senders go
// straight into their INBOX instead of through the network. The
// implementation is smtpd.LocalDelivery.
type Local interface {
	// LocalUser returns the account that receives mail for addr, and
	// false when addr is not a local address.
	LocalUser(addr string) (user string, ok bool)
	// DeliverLocal stores msg in the INBOX of user and returns only once
	// it is durable.
	DeliverLocal(ctx context.Context, user string, msg io.Reader) error
}

// Options are the queue's collaborators.
type Options struct {
	// Logger receives one line per delivery attempt; nil discards.
	Logger *slog.Logger
	// Local delivers to local recipients and bounces to local senders.
	// Nil: every recipient is routed by MX (or the smarthost), and every
	// bounce is queued toward the sender with the null envelope sender.
	Local Local
}

// Queue is the outbound spool of one data directory.
type Queue struct {
	cfg     Config
	dir     string // <data>/queue
	dkimDir string // <data>/dkim
	log     *slog.Logger
	local   Local
	res     *resolver

	mu       sync.Mutex
	sched    schedule
	inFlight map[string]bool
	wake     chan struct{}
}

// Open opens (creating it if needed) the queue under dataDir, removes
// leftovers of interrupted submissions, and schedules every queued
// message. Deliveries start with Run.
func Open(dataDir string, cfg Config, opts Options) (*Queue, error) {
	cfg = cfg.withDefaults()
	q := &Queue{
		cfg:      cfg,
		dir:      filepath.Join(dataDir, "queue"),
		dkimDir:  filepath.Join(dataDir, "dkim"),
		log:      opts.Logger,
		local:    opts.Local,
		res:      newResolver(cfg.Resolver),
		inFlight: map[string]bool{},
		wake:     make(chan struct{}, 1),
	}
	if q.log == nil {
		q.log = slog.New(slog.DiscardHandler)
	}
	q.log = q.log.With("proto", "smtp-out")
	for _, d := range []string{q.dir, filepath.Join(q.dir, "control")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("queue: create %s: %w", d, err)
		}
	}
	if err := q.load(); err != nil {
		return nil, err
	}
	return q, nil
}

// load scans the queue directory: envelopes are scheduled, orphan message
// files and temporary files are removed.
func (q *Queue) load() error {
	ents, err := os.ReadDir(q.dir)
	if err != nil {
		return fmt.Errorf("queue: scan %s: %w", q.dir, err)
	}
	haveEnv := map[string]bool{}
	for _, de := range ents {
		if id, ok := strings.CutSuffix(de.Name(), ".json"); ok && validID(id) {
			haveEnv[id] = true
		}
	}
	for _, de := range ents {
		name := de.Name()
		switch {
		case strings.HasPrefix(name, ".") && strings.Contains(name, ".tmp."):
			os.Remove(filepath.Join(q.dir, name))
		case strings.HasSuffix(name, ".msg"):
			if id := strings.TrimSuffix(name, ".msg"); !haveEnv[id] {
				q.log.Info("removing unacknowledged submission", "id", id)
				os.Remove(filepath.Join(q.dir, name))
			}
		}
	}
	for id := range haveEnv {
		e, err := loadEnvelope(q.dir, id)
		if err != nil {
			q.log.Error("unreadable envelope left in queue", "id", id, "err", err)
			continue
		}
		at, ok := e.next()
		if !ok {
			at = time.Now() // finished but not yet removed: finish it
		}
		q.sched.add(entry{at: at, id: id})
	}
	return nil
}

// Len returns the number of scheduled entries (an upper bound on the
// number of queued messages).
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.sched)
}

// validPath reports whether addr can be sent in MAIL FROM or RCPT TO:
// local@domain without spaces, controls or angle brackets, within RFC
// 5321 section 4.5.3.1.3's 256 octets ("" only as the null sender).
func validPath(addr string, mayBeNull bool) bool {
	if addr == "" {
		return mayBeNull
	}
	if len(addr) > 256 || strings.LastIndexByte(addr, '@') < 1 || strings.HasSuffix(addr, "@") {
		return false
	}
	for i := 0; i < len(addr); i++ {
		if c := addr[i]; c <= ' ' || c == 0x7f || c == '<' || c == '>' {
			return false
		}
	}
	return true
}

// Enqueue signs msg with the sender domain's DKIM keys and stores it with
// its envelope for delivery to rcpts. It returns only once both files are
// durable; the message is then delivered at least once or bounced.
// An oversized message gets smtp.ErrDataTooLarge and a malformed address
// a 553 *smtp.SMTPError, neither wrapped, so go-smtp replies with them.
func (q *Queue) Enqueue(ctx context.Context, from string, rcpts []string, msg io.Reader) (string, error) {
	if len(rcpts) == 0 {
		return "", errors.New("queue: no recipients")
	}
	if !validPath(from, true) {
		return "", &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 1, 7}, Message: "Malformed sender address"}
	}
	for _, r := range rcpts {
		if !validPath(r, false) {
			return "", &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 1, 3}, Message: "Malformed recipient address"}
		}
	}
	body, err := readMessage(msg, q.cfg.MaxMessageBytes)
	if err != nil {
		return "", err
	}
	sigs, err := q.sign(from, body)
	if err != nil {
		return "", err
	}
	return q.store(ctx, from, rcpts, sigs, body)
}

// store writes a message (header prefix plus body) and its envelope.
func (q *Queue) store(ctx context.Context, from string, rcpts []string, prefix, body []byte) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("queue: enqueue: %w", err)
	}
	now := time.Now()
	e := &Envelope{
		ID:      newID(now),
		From:    from,
		Created: now,
		Size:    int64(len(prefix) + len(body)),
		UTF8:    needsUTF8(from, rcpts, body),
	}
	for _, r := range rcpts {
		e.Rcpts = append(e.Rcpts, &Recipient{Addr: r, State: StatePending})
	}
	err := durable.WriteFileFrom(msgPath(q.dir, e.ID), func(w io.Writer) error {
		if _, err := w.Write(prefix); err != nil {
			return err
		}
		_, err := w.Write(body)
		return err
	}, 0o600)
	if err != nil {
		return "", fmt.Errorf("queue: store message: %w", err)
	}
	if err := saveEnvelope(q.dir, e); err != nil {
		os.Remove(msgPath(q.dir, e.ID))
		return "", err
	}
	q.log.Info("queued", "id", e.ID, "from", from, "rcpts", len(rcpts), "size", e.Size)
	q.schedule(entry{at: now, id: e.ID})
	return e.ID, nil
}

// schedule adds an entry and wakes the dispatcher.
func (q *Queue) schedule(e entry) {
	q.mu.Lock()
	q.sched.add(e)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Run delivers queued messages until ctx is cancelled, then waits for the
// deliveries in progress to stop. Recipients whose delivery was
// interrupted stay queued and are tried again at the next start.
func (q *Queue) Run(ctx context.Context) error {
	jobs := make(chan entry)
	var wg sync.WaitGroup
	for i := 0; i < q.cfg.Workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for e := range jobs {
				q.process(ctx, e)
				q.mu.Lock()
				delete(q.inFlight, e.id)
				q.mu.Unlock()
			}
		}()
	}
	defer wg.Wait()
	defer close(jobs)
	q.control(ctx)
	poll := time.NewTicker(ControlPoll)
	defer poll.Stop()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		// Hand out every due entry; sending blocks while all workers are busy.
		for {
			q.mu.Lock()
			e, ok := q.sched.due(time.Now())
			if ok && q.inFlight[e.id] {
				e.at = time.Now().Add(busyRetry)
				q.sched.add(e)
				ok = false
			}
			if ok {
				q.inFlight[e.id] = true
			}
			q.mu.Unlock()
			if !ok {
				break
			}
			select {
			case jobs <- e:
			case <-ctx.Done():
				return nil
			}
		}
		q.mu.Lock()
		d := q.sched.wait(time.Now(), maxIdle)
		q.mu.Unlock()
		timer.Reset(max(d, 0))
		select {
		case <-ctx.Done():
			return nil
		case <-q.wake:
		case <-timer.C:
		case <-poll.C:
			q.control(ctx)
		}
	}
}

// readMessage reads at most limit bytes of msg and returns them with every
// line ending as CRLF (a bare LF or CR is never sent on).
func readMessage(r io.Reader, limit int64) ([]byte, error) {
	raw, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("queue: read message: %w", err)
	}
	if int64(len(raw)) > limit {
		return nil, smtp.ErrDataTooLarge
	}
	if !isCRLF(raw) {
		out := make([]byte, 0, len(raw)+len(raw)/32)
		for i := 0; i < len(raw); i++ {
			switch c := raw[i]; c {
			case '\r':
				out = append(out, '\r', '\n')
				if i+1 < len(raw) && raw[i+1] == '\n' {
					i++
				}
			case '\n':
				out = append(out, '\r', '\n')
			default:
				out = append(out, c)
			}
		}
		raw = out
	}
	if len(raw) > 0 && !bytes.HasSuffix(raw, []byte("\r\n")) {
		raw = append(raw, '\r', '\n')
	}
	return raw, nil
}

// isCRLF reports whether every CR and LF in b is part of a CRLF pair.
func isCRLF(b []byte) bool {
	for i, c := range b {
		switch c {
		case '\n':
			if i == 0 || b[i-1] != '\r' {
				return false
			}
		case '\r':
			if i+1 >= len(b) || b[i+1] != '\n' {
				return false
			}
		}
	}
	return true
}

// needsUTF8 reports whether the envelope or the header block holds
// non-ASCII bytes, which only an SMTPUTF8 server may receive (RFC 6531).
func needsUTF8(from string, rcpts []string, msg []byte) bool {
	if !isASCII(from) {
		return true
	}
	for _, r := range rcpts {
		if !isASCII(r) {
			return true
		}
	}
	hdr := msg
	if i := bytes.Index(msg, []byte("\r\n\r\n")); i >= 0 {
		hdr = msg[:i]
	}
	return !isASCII(string(hdr))
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// isNotExist is errors.Is(err, fs.ErrNotExist).
func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
