package imapd

import (
	"fmt"
	"sync/atomic"

	imap "github.com/emersion/go-imap/v2"
)

// Memory held by commands. SEARCH on BODY or TEXT, and FETCH of
// BODYSTRUCTURE, BINARY or a body section other than a whole BODY[],
// load messages into memory: the file, the extracted sections, the
// lower-cased text. Each command accounts what it holds, message by
// message, against its own bound and a server-wide budget, and gets
// NO [LIMIT] rather than more memory. (A whole BODY[] is streamed through
// a 32 KiB buffer and needs none.)
const (
	// DefaultMaxCommandMemory is the message data one command may hold
	// at once: more than twice the largest message APPEND accepts by
	// default (50 MiB), so the file and one section of it fit.
	DefaultMaxCommandMemory = 128 << 20
	// DefaultMaxTotalCommandMemory is the message data all commands may
	// hold at once, for a server with 1 GiB of memory or more.
	DefaultMaxTotalCommandMemory = 512 << 20
	// MinCommandMemory is the least MaxCommandMemory a configuration may
	// set.
	MinCommandMemory = 1 << 20
)

// memBudget is the server-wide count of message bytes held by commands.
type memBudget struct {
	limit int64
	used  atomic.Int64
}

// take counts n more bytes, or reports false (counting nothing) when the
// budget would be exceeded.
func (b *memBudget) take(n int64) bool {
	for {
		u := b.used.Load()
		if u+n > b.limit {
			return false
		}
		if b.used.CompareAndSwap(u, u+n) {
			return true
		}
	}
}

// give returns n bytes to the budget.
func (b *memBudget) give(n int64) { b.used.Add(-n) }

// cmdMemory is what one command holds. Only the command's goroutine
// uses it. A nil *cmdMemory accounts nothing (commands that are not
// busy).
type cmdMemory struct {
	limit int64 // Config.MaxCommandMemory
	used  int64
	total *memBudget
}

// take accounts n bytes about to be held. It fails with NO [LIMIT] when
// the command's bound or the server's budget would be exceeded; nothing
// is accounted then.
func (m *cmdMemory) take(n int64) error {
	if m == nil || n <= 0 {
		return nil
	}
	if m.used+n > m.limit {
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeLimit,
			Text: fmt.Sprintf("Command needs more than %d MiB of message data at once; ask for fewer messages or sections", m.limit>>20)}
	}
	if !m.total.take(n) {
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeLimit,
			Text: "Server memory for message data is in use, try again later"}
	}
	m.used += n
	return nil
}

// giveBack releases what the command holds beyond mark (a value of
// used taken earlier).
func (m *cmdMemory) giveBack(mark int64) {
	if m == nil {
		return
	}
	if n := m.used - mark; n > 0 {
		m.total.give(n)
		m.used = mark
	}
}

// adjust changes an amount accounted earlier from was to now bytes (an
// estimate replaced by the real size); growing can fail as take does.
func (m *cmdMemory) adjust(was, now int64) error {
	if m == nil {
		return nil
	}
	if now > was {
		return m.take(now - was)
	}
	m.total.give(was - now)
	m.used -= was - now
	return nil
}

// mark returns what the command holds now, for giveBack.
func (m *cmdMemory) mark() int64 {
	if m == nil {
		return 0
	}
	return m.used
}
