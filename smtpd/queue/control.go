package queue

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"postern/maildir/durable"
)

// Operator requests are files in <data>/queue/control, so the commands
// work without a connection to the server: "flush" (all), "flush-<id>",
// "drop-<id>". The running queue applies them within ControlPoll and
// removes them; requests made while no server runs apply at its start.

// RequestFlush asks the running queue to retry message id now, or every
// message when id is "".
func RequestFlush(dataDir, id string) error {
	name := "flush"
	if id != "" {
		if err := checkQueued(dataDir, id); err != nil {
			return err
		}
		name = "flush-" + id
	}
	return writeControl(dataDir, name)
}

// RequestDrop asks the running queue to give up message id: its
// unfinished recipients fail with "deleted by administrator" and the
// sender gets a bounce.
func RequestDrop(dataDir, id string) error {
	if err := checkQueued(dataDir, id); err != nil {
		return err
	}
	return writeControl(dataDir, "drop-"+id)
}

func checkQueued(dataDir, id string) error {
	if !validID(id) {
		return fmt.Errorf("queue: bad id %q", id)
	}
	if _, err := os.Stat(jsonPath(filepath.Join(dataDir, "queue"), id)); err != nil {
		return fmt.Errorf("queue: no message %s in the queue", id)
	}
	return nil
}

func writeControl(dataDir, name string) error {
	dir := filepath.Join(dataDir, "queue", "control")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("queue: %w", err)
	}
	return durable.WriteFile(filepath.Join(dir, name), nil, 0o600)
}

// control applies pending operator requests.
func (q *Queue) control(ctx context.Context) {
	dir := filepath.Join(q.dir, "control")
	ents, err := os.ReadDir(dir)
	if err != nil {
		q.log.Error("cannot read control requests", "err", err)
		return
	}
	for _, de := range ents {
		name := de.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		done := true
		_, id, _ := strings.Cut(name, "-")
		if name != "flush" && !validID(id) {
			os.Remove(filepath.Join(dir, name))
			continue
		}
		switch {
		case name == "flush":
			q.flushAll()
		case strings.HasPrefix(name, "flush-"):
			q.schedule(entry{at: time.Now(), id: id, force: true})
		case strings.HasPrefix(name, "drop-"):
			done = q.drop(ctx, id)
		}
		if done {
			os.Remove(filepath.Join(dir, name))
		}
	}
}

// flushAll schedules every queued message for an attempt now.
func (q *Queue) flushAll() {
	ents, err := os.ReadDir(q.dir)
	if err != nil {
		q.log.Error("flush: cannot scan queue", "err", err)
		return
	}
	n := 0
	for _, de := range ents {
		if id, ok := strings.CutSuffix(de.Name(), ".json"); ok && validID(id) {
			q.schedule(entry{at: time.Now(), id: id, force: true})
			n++
		}
	}
	q.log.Info("flush requested", "messages", n)
}

// drop fails the unfinished recipients of message id and finishes it. It
// returns false when the message is being delivered (try again later).
func (q *Queue) drop(ctx context.Context, id string) bool {
	q.mu.Lock()
	busy := q.inFlight[id]
	if !busy {
		q.inFlight[id] = true
	}
	q.mu.Unlock()
	if busy {
		return false
	}
	defer func() {
		q.mu.Lock()
		delete(q.inFlight, id)
		q.mu.Unlock()
	}()
	log := q.log.With("id", id)
	env, err := loadEnvelope(q.dir, id)
	if err != nil {
		log.Warn("drop: no such message", "err", err)
		return true
	}
	for _, r := range env.Rcpts {
		if !r.State.final() {
			r.State = StateFailed
			r.Status = "5.0.0"
			r.LastError = "deleted by administrator"
			r.Remote = ""
		}
	}
	if err := saveEnvelope(q.dir, env); err != nil {
		log.Error("drop: cannot record", "err", err)
		return false
	}
	log.Info("dropped by administrator")
	q.finish(ctx, log, env)
	return true
}
