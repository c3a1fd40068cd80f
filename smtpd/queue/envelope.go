package queue

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"postern/maildir/durable"
)

// State is where one recipient of a queued message stands.
type State string

// Recipient states.
const (
	// StatePending: not tried yet.
	StatePending State = "pending"
	// StateDeferred: tried, failed temporarily, retried at Next.
	StateDeferred State = "deferred"
	// StateDelivered: accepted by the remote server.
	StateDelivered State = "delivered"
	// StateFailed: failed permanently or expired; bounced to the sender.
	StateFailed State = "failed"
)

// final reports whether no more attempts are made for this state.
func (s State) final() bool { return s == StateDelivered || s == StateFailed }

// Recipient is the per-recipient part of an envelope.
type Recipient struct {
	Addr      string    `json:"addr"`
	State     State     `json:"state"`
	Attempts  int       `json:"attempts,omitempty"`
	Next      time.Time `json:"next,omitempty"`
	LastError string    `json:"last_error,omitempty"`
	// Status is the RFC 3463 enhanced status code of the last outcome.
	Status string `json:"status,omitempty"`
	// Remote is the host that gave the last answer ("mx.example.net").
	Remote string `json:"remote,omitempty"`
}

// Envelope is a queued message's <id>.json file.
type Envelope struct {
	ID      string    `json:"id"`
	From    string    `json:"from"`
	Created time.Time `json:"created"`
	Size    int64     `json:"size"`
	// UTF8 is set when the envelope or header needs SMTPUTF8 (RFC 6531).
	UTF8  bool         `json:"utf8,omitempty"`
	Rcpts []*Recipient `json:"rcpts"`
	// Bounced is set once the bounce for failed recipients was handed on.
	Bounced bool `json:"bounced,omitempty"`
	// Warned is set once the delay warning was handed on.
	Warned bool `json:"warned,omitempty"`
}

// next returns the earliest next-attempt time of unfinished recipients
// and whether there is any.
func (e *Envelope) next() (time.Time, bool) {
	var t time.Time
	any := false
	for _, r := range e.Rcpts {
		if r.State.final() {
			continue
		}
		n := r.Next
		if r.State == StatePending {
			n = e.Created
		}
		if !any || n.Before(t) {
			t, any = n, true
		}
	}
	return t, any
}

// newID returns a queue id: the time in base 36 (so ids sort by age) and
// random bytes.
func newID(now time.Time) string {
	var b [5]byte
	rand.Read(b[:])
	return strconv.FormatInt(now.UnixNano(), 36) + hex.EncodeToString(b[:])
}

// validID reports whether s can be a queue id (and so a safe file name).
func validID(s string) bool {
	if s == "" || len(s) > maxIDLen {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}

func msgPath(dir, id string) string  { return filepath.Join(dir, id+".msg") }
func jsonPath(dir, id string) string { return filepath.Join(dir, id+".json") }

// saveEnvelope writes e durably.
func saveEnvelope(dir string, e *Envelope) error {
	b, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return fmt.Errorf("queue: encode envelope %s: %w", e.ID, err)
	}
	if err := durable.WriteFile(jsonPath(dir, e.ID), append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("queue: save envelope %s: %w", e.ID, err)
	}
	return nil
}

// loadEnvelope reads <id>.json.
func loadEnvelope(dir, id string) (*Envelope, error) {
	b, err := os.ReadFile(jsonPath(dir, id))
	if err != nil {
		return nil, fmt.Errorf("queue: read envelope: %w", err)
	}
	var e Envelope
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("queue: decode envelope %s: %w", id, err)
	}
	if e.ID != id {
		return nil, fmt.Errorf("queue: envelope %s names id %q", id, e.ID)
	}
	return &e, nil
}

// removeMessage deletes a finished message: the envelope first, so a crash
// in between leaves an orphan .msg that the next start removes.
func removeMessage(dir, id string) error {
	if err := os.Remove(jsonPath(dir, id)); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("queue: remove envelope %s: %w", id, err)
	}
	if err := os.Remove(msgPath(dir, id)); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("queue: remove message %s: %w", id, err)
	}
	return nil
}

// List returns the envelopes of every message queued under dataDir, in
// id order (oldest first). It only reads, so it is safe while a server
// runs. Envelopes that cannot be read are left out and named in the
// returned error, beside the readable ones.
func List(dataDir string) ([]*Envelope, error) {
	dir := filepath.Join(dataDir, "queue")
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("queue: list %s: %w", dir, err)
	}
	var out []*Envelope
	var bad []error
	for _, de := range ents {
		id, ok := strings.CutSuffix(de.Name(), ".json")
		if !ok || !validID(id) {
			continue
		}
		e, err := loadEnvelope(dir, id)
		if errors.Is(err, fs.ErrNotExist) {
			continue // finished meanwhile
		}
		if err != nil {
			bad = append(bad, err)
			continue
		}
		out = append(out, e)
	}
	return out, errors.Join(bad...)
}
