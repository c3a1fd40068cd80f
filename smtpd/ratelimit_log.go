package smtpd

import (
	"log/slog"
	"sync"
	"time"
)

// refusalLogInterval is the least time between two log lines for one
// source and limit, as connguard.RefusalLogInterval: one line per source
// per interval is what fail2ban needs, and a flood cannot fill the log.
const refusalLogInterval = 10 * time.Second

// maxRefusalLogKeys bounds the refusal log's memory; past it the table
// starts over.
const maxRefusalLogKeys = 10_000

// refusalLog writes the WARN lines of the port 25 defences, at most one
// per source and limit every refusalLogInterval; the lines in between
// are counted in the next one's "suppressed". Safe for concurrent use.
type refusalLog struct {
	mu     sync.Mutex
	logged map[refusalKey]*refusalState
}

type refusalKey struct{ source, limit string }

type refusalState struct {
	last       time.Time
	suppressed int
}

func newRefusalLog() *refusalLog {
	return &refusalLog{logged: map[refusalKey]*refusalState{}}
}

// note logs msg on log with limit, source and attrs, unless a line for
// the same source and limit was written less than refusalLogInterval
// ago.
func (r *refusalLog) note(log *slog.Logger, msg, limit, source string, attrs ...any) {
	now := time.Now()
	k := refusalKey{source: source, limit: limit}
	r.mu.Lock()
	st := r.logged[k]
	if st == nil {
		if len(r.logged) >= maxRefusalLogKeys {
			clear(r.logged)
		}
		st = &refusalState{}
		r.logged[k] = st
	}
	if !st.last.IsZero() && now.Sub(st.last) < refusalLogInterval {
		st.suppressed++
		r.mu.Unlock()
		return
	}
	suppressed := st.suppressed
	st.last, st.suppressed = now, 0
	r.mu.Unlock()
	log.Warn(msg, append([]any{"limit", limit, "source", source}, append(attrs, "suppressed", suppressed)...)...)
}
