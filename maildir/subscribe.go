package maildir

import "slices"

// EventKind says what changed.
type EventKind int

// Kinds of change events.
const (
	EventNew     EventKind = iota // a message was added (Message is complete)
	EventFlags                    // a message's flags changed (Message.Flags are the new ones)
	EventExpunge                  // a message is gone (only Message.UID is set)
)

// Event is one change of a folder, delivered to subscribers in order.
type Event struct {
	Kind    EventKind
	Message Message
	// Source is what the mutator passed (nil for deliveries and for
	// changes found on disk), so a session can recognise its own
	// changes.
	Source Source
}

// Source identifies who makes a change (Append, SetFlags, Move, Expunge),
// so that a subscriber can recognise its own changes among the events it
// gets: Event.Source is the very value passed. A front end makes its
// session state a Source by embedding SourceMark in it; then a pointer to
// that state, and nothing else, is a Source, so that no other value is
// passed by mistake, and a subscriber compares it, or type-asserts it
// back to that pointer type. nil stands for no one in particular.
type Source interface {
	// eventSource marks a Source; it is never called.
	eventSource()
}

// SourceMark, embedded in a struct, makes a pointer to that struct a
// Source. It has no size: a struct holding nothing else has none either,
// and pointers to two of those may compare equal.
type SourceMark struct{}

func (*SourceMark) eventSource() {}

// Subscribe atomically returns the current messages sorted by UID and
// UIDNEXT, and arranges for fn to be called for every later change, in
// order, until cancel is called.
//
// fn is called after the folder lock is released (see events.go), one
// event at a time, possibly before Subscribe has returned (the caller
// must then hold the event until it has installed the snapshot) and
// from another goroutine's Folder call. It must not block, must not call
// the Folder and must take no lock that is held while the Folder is
// called.
func (f *Folder) Subscribe(fn func(Event)) (snapshot []Message, uidNext uint32, cancel func()) {
	f.awaitDeferred()
	f.mu.Lock()
	defer f.mu.Unlock()
	sub := &subscriber{fn: fn}
	f.subs = append(slices.Clip(f.subs), sub)
	cancel = func() {
		if sub.canceled.Swap(true) {
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		if i := slices.Index(f.subs, sub); i >= 0 {
			f.subs = slices.Delete(slices.Clone(f.subs), i, i+1)
		}
	}
	return f.snapshotLocked(), f.ul.hdr.Next, cancel
}
