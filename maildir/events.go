package maildir

import (
	"sync"
	"sync/atomic"
)

// Change events leave the folder lock before they reach a subscriber.
//
// A mutation publishes its events while it holds Folder.mu (that is what
// orders them), but publishLocked only queues them, with the subscribers
// of that moment. Releasing Folder.mu delivers the queue: the releasing
// goroutine calls the subscribers itself, or waits while another
// goroutine that is already delivering does, so
//
//   - no subscriber ever runs under a folder (or account) lock, and may
//     therefore take locks of its own that its callers also hold while
//     they call the folder (imapd's mailbox view: the inversion of
//     issue 14);
//   - events reach every subscriber one at a time, in the order they
//     were queued, across all publishers;
//   - when a Folder method returns, every event queued before it
//     returned has been delivered, so a session that changed the folder
//     finds the change in its own view at once (read-your-writes).
//
// A subscriber must still not call the Folder, block, or wait for
// anything that a caller of the Folder may hold: it is called from
// inside another goroutine's Folder method.

// subscriber is one Subscribe callback.
type subscriber struct {
	fn func(Event)
	// canceled is set by cancel: an event queued before the cancel is
	// not delivered to it any more.
	canceled atomic.Bool
}

// queuedEvent is one event and the subscribers it goes to: the ones
// subscribed when it was published, so a later subscriber, whose
// snapshot already holds the change, does not get it again.
type queuedEvent struct {
	ev   Event
	subs []*subscriber
}

// eventQueue holds a folder's events between publication (under the
// folder lock) and delivery (after it). Its mu is a leaf lock: nothing
// is called while it is held.
type eventQueue struct {
	mu       sync.Mutex
	cond     sync.Cond // signalled when a delivery round ends; L is &mu (set by newFolder)
	queue    []queuedEvent
	draining bool // a goroutine is calling subscribers
	// queued and delivered count events; written under mu, read without
	// it on the fast path.
	queued, delivered atomic.Uint64
}

// folderMutex is Folder.mu. Lock is sync.Mutex's; Unlock also delivers
// the events queued meanwhile (see deliverEvents), so no code path can
// publish and forget to deliver.
type folderMutex struct {
	sync.Mutex
	f *Folder
}

// Unlock releases the folder and then delivers its queued events.
func (m *folderMutex) Unlock() {
	m.Mutex.Unlock()
	m.f.deliverEvents()
}

// unlockQuiet releases the folder without delivering: for a caller that
// still holds another store lock (a second folder, the account) and
// calls deliverEvents once it has released that one too.
func (m *folderMutex) unlockQuiet() { m.Mutex.Unlock() }

// publishLocked queues ev for every current subscriber. f.mu is held.
func (f *Folder) publishLocked(ev Event) {
	if len(f.subs) == 0 {
		return
	}
	q := &f.events
	q.mu.Lock()
	q.queue = append(q.queue, queuedEvent{ev: ev, subs: f.subs})
	q.queued.Add(1)
	q.mu.Unlock()
}

// deliverEvents returns once every event queued before the call has been
// delivered: it delivers them itself, or waits for the goroutine that is
// delivering. The caller holds no folder or account lock.
func (f *Folder) deliverEvents() {
	q := &f.events
	target := q.queued.Load()
	if q.delivered.Load() >= target {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.delivered.Load() < target {
		if q.draining {
			q.cond.Wait()
			continue
		}
		q.draining = true
		batch := q.queue
		q.queue = nil
		q.mu.Unlock()
		q.call(batch)
	}
}

// call delivers one batch with q.mu released, and takes q.mu back (also
// when a subscriber panics, so the queue is not left draining forever).
func (q *eventQueue) call(batch []queuedEvent) {
	defer func() {
		q.mu.Lock()
		q.delivered.Add(uint64(len(batch)))
		q.draining = false
		q.cond.Broadcast()
	}()
	for _, qe := range batch {
		for _, s := range qe.subs {
			if !s.canceled.Load() {
				s.fn(qe.ev)
			}
		}
	}
}

// deliverAll delivers the queued events of several folders, in order.
func deliverAll(fs []*Folder) {
	for _, f := range fs {
		f.deliverEvents()
	}
}
