package maildir

import (
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"postern/maildir/dovecot"
	"postern/maildir/durable"
)

// Group commit of added messages. An add (delivery, APPEND, COPY) links
// its file into new/ or cur/ and queues itself; whoever takes the folder
// lock first numbers every queued add under one dotlock with one append
// to dovecot-uidlist. Each add then waits for two shared fsyncs at once,
// its directory's and dovecot-uidlist's (on a journalling file system
// they complete in one journal commit), and the numbered adds are
// published in UID order once their file and record are both durable: a
// UID is never shown before its record is on stable storage, so it can
// never be shown for another message after a crash.

// pendingAdd is one add on its way into the folder.
type pendingAdd struct {
	e      entry
	size   int64
	source Source

	// async: a delivery whose file is already durable, numbered by the
	// background committer (see Deliver); nobody waits for it.
	async bool

	// Guarded by the folder's mu.
	numbered bool  // numbering ran: e.uid is set, or err
	queued   bool  // in commitState.pending, waiting for publication
	durable  bool  // its file and record are on stable storage (or failed)
	failed   error // the fsync covering it failed: dropped, not shown
	done     bool  // published, or dropped
	scanned  bool  // published by a scan of this process (see markScannedLocked)
	m        Message
	err      error
}

// commitState is a folder's queue of adds.
type commitState struct {
	qmu      sync.Mutex
	toNumber []*pendingAdd // linked, waiting for a UID; guarded by qmu
	running  bool          // the background committer runs; guarded by qmu
	// deferred counts the async adds queued so far (written under qmu),
	// settled those published or dropped (written under the folder's
	// mu): a reader with nothing to wait for reads them without a lock.
	deferred, settled atomic.Uint64
	// hurry cuts the committer's wait short (buffered, one slot).
	hurry chan struct{}

	// newSync and curSync share the fsyncs of new/ or cur/, each with
	// dovecot-uidlist, among the adds waiting for them.
	newSync, curSync syncGroup
	// newDirSync and curDirSync share the directory fsyncs of deferred
	// deliveries, ulSync the committer's fsyncs of dovecot-uidlist.
	newDirSync, curDirSync, ulSync syncGroup

	// Guarded by the folder's mu.
	pending []*pendingAdd // numbered, unpublished, in UID order
	// wake is closed (and replaced) whenever adds were published.
	wake chan struct{}
}

// fsyncFile and syncDir are the fsyncs of the add path; tests wrap them
// to check what was durable when an event was published.
var (
	fsyncFile = (*os.File).Sync
	syncDir   = durable.SyncDir
)

// commitAdd gives a linked, not yet numbered add its UID, makes its file
// and record durable, and publishes it in UID order. It returns the
// message and whether the add stands (published, here or by a scan): an
// add that does not must be undone by the caller.
func (f *Folder) commitAdd(p *pendingAdd, dir string) (m Message, kept bool, err error) {
	c := &f.cs
	c.qmu.Lock()
	c.toNumber = append(c.toNumber, p)
	c.qmu.Unlock()

	f.mu.Lock()
	if !p.numbered {
		f.numberQueuedLocked(c)
	}
	if p.err != nil {
		f.mu.Unlock()
		return Message{}, false, p.err
	}
	f.mu.Unlock()

	group := &c.newSync
	if !p.e.inNew {
		group = &c.curSync
	}
	err = group.do(func() error { return f.syncDirAndUIDList(dir) })

	f.mu.Lock()
	defer f.mu.Unlock()
	if !p.queued {
		// Numbered by a scan of this or another process: shown by it.
		return p.m, true, err
	}
	if !p.done && err == nil {
		// The fsyncs began after this add was numbered, so they cover
		// it and every add of the same directory numbered before it.
		for _, q := range c.pending {
			if (q.async || q.e.inNew == p.e.inNew) && !q.durable {
				q.durable = true
			}
			if q == p {
				break
			}
		}
		f.publishReadyLocked(c)
	} else if !p.done {
		p.durable, p.failed = true, err
		f.publishReadyLocked(c)
	}
	for !p.done {
		w := c.wake
		f.mu.Unlock()
		<-w
		f.mu.Lock()
	}
	if p.err != nil {
		return Message{}, false, p.err
	}
	// Published: a later fsync covered it even if its own failed.
	return p.m, true, nil
}

// syncDirAndUIDList fsyncs dir and dovecot-uidlist at once: on a
// journalling file system both complete in one journal commit.
func (f *Folder) syncDirAndUIDList(dir string) error {
	dirErr := make(chan error, 1)
	go func() { dirErr <- syncDir(dir) }()
	ulErr := f.syncUIDList()
	if err := <-dirErr; err != nil {
		return ioErr("maildir: sync", err)
	}
	if ulErr != nil {
		return ioErr("maildir: fsync uidlist", ulErr)
	}
	return nil
}

// numberQueuedLocked numbers every queued add under one dotlock with one
// append to dovecot-uidlist (not fsynced: the adds do it together).
// f.mu is held.
func (f *Folder) numberQueuedLocked(c *commitState) {
	c.qmu.Lock()
	batch := c.toNumber
	c.toNumber = nil
	c.qmu.Unlock()
	fail := func(err error) {
		for _, p := range batch {
			if p.err == nil && !p.queued {
				p.err = err
			}
		}
	}
	defer func() {
		settled := false
		for _, p := range batch {
			if p.async && !p.queued {
				// Failed, or numbered by a scan: settled now, and counted
				// by the scan that shows it, not by its Deliver.
				c.settled.Add(1)
				settled = true
				f.acct.quota.add(-p.size, -1)
				if p.err != nil {
					f.acct.st.log.Error("numbering a delivery failed; the next scan numbers it", "user", f.acct.user, "folder", f.name, "file", p.e.base, "err", p.err)
				}
			}
		}
		if settled {
			c.wakeAll()
		}
	}()
	for _, p := range batch {
		p.numbered = true
	}
	if err := f.checkLocked(); err != nil {
		fail(err)
		return
	}
	lock, err := f.lockFreshLocked()
	if err != nil {
		fail(err)
		return
	}
	defer lock.Release()
	var recs []dovecot.UIDRecord
	var fresh []*pendingAdd
	for _, p := range batch {
		uid, ok := f.ul.known[p.e.base]
		if !ok {
			p.e.uid = f.ul.hdr.Next + uint32(len(recs))
			recs = append(recs, dovecot.UIDRecord{UID: p.e.uid, Base: p.e.base, VSize: -1})
			fresh = append(fresh, p)
			continue
		}
		// Another process, or a scan, gave the file its UID.
		p.e.uid = uid
		if i := f.find(uid); i >= 0 && f.msgs[i].base == p.e.base {
			p.m = f.message(&f.msgs[i]) // counted and published by the scan
		} else {
			// Not found by the scan: the other process has moved or
			// expunged it meanwhile (it was stored, so the add
			// succeeded). It is not shown here, where a late UID would
			// be out of order.
			p.m = f.message(&p.e)
		}
	}
	if err := f.appendUIDListLocked(recs, false); err != nil {
		batch = fresh
		fail(err)
		return
	}
	for _, p := range fresh {
		p.queued = true
	}
	// Fresh UIDs are above every pending one: the queue stays in order.
	c.pending = append(c.pending, fresh...)
}

// publishReadyLocked publishes, in UID order, the pending adds up to the
// first one that is not durable yet, and wakes their callers. f.mu is
// held.
func (f *Folder) publishReadyLocked(c *commitState) {
	n := 0
	for n < len(c.pending) && c.pending[n].durable {
		n++
	}
	if n == 0 {
		return
	}
	ready := c.pending[:n]
	c.pending = append([]*pendingAdd(nil), c.pending[n:]...)
	var added []entry
	var bytes, count int64
	for _, p := range ready {
		p.done = true
		if p.async {
			c.settled.Add(1)
			// Counted when its Deliver returned: uncounted below unless
			// shown here.
			bytes -= p.size
			count--
		}
		if p.failed != nil {
			p.err = p.failed
			continue
		}
		if err := f.checkLocked(); err != nil {
			p.err = err
			continue
		}
		if i := f.find(p.e.uid); i >= 0 {
			p.m = f.message(&f.msgs[i]) // a scan found the file first
			continue
		}
		if p.scanned {
			// A scan found and published the file, and it was expunged
			// or moved since: it is not shown again.
			p.m = f.message(&p.e)
			continue
		}
		if _, err := os.Lstat(f.path(p.e.name())); err != nil {
			// Another process renamed it (a flag change: its UID is in
			// dovecot-uidlist, so it may have shown and changed it) or
			// removed it. It is shown all the same, in UID order; the
			// next rescan, forced here, finds its new name or its
			// expunge. Left out, it would come back later as new, after
			// higher UIDs.
			f.watch = watchState{}
		}
		f.insertLocked(p.e)
		added = append(added, p.e)
		bytes += p.size
		count++
		p.m = f.message(&f.msgs[f.find(p.e.uid)])
		f.publishLocked(Event{Kind: EventNew, Message: p.m, Source: p.source})
	}
	f.cacheDatesLocked(added)
	f.acct.quota.add(bytes, count)
	c.wakeAll()
}

// markScannedLocked notes the pending adds that a scan is publishing
// (found as files with their records). f.mu is held.
func (f *Folder) markScannedLocked(added []entry) {
	c := &f.cs
	if len(c.pending) == 0 {
		return
	}
	byUID := make(map[uint32]*pendingAdd, len(c.pending))
	for _, p := range c.pending {
		byUID[p.e.uid] = p
	}
	for i := range added {
		if p := byUID[added[i].uid]; p != nil && p.e.base == added[i].base {
			p.scanned = true
		}
	}
}

// wakeAll wakes every caller waiting for adds. The folder's mu is held.
func (c *commitState) wakeAll() {
	close(c.wake)
	c.wake = make(chan struct{})
}

// flushPendingLocked makes every numbered add durable now and publishes
// them, before a UID above theirs is published by the caller: a move that
// has just fsynced dovecot-uidlist (covering their records), or a scan,
// which fsyncs it here (withUIDList). A scan that published a file of
// another process first would show its UID before theirs, or, finding
// their files, show their UIDs before their records are durable. f.mu
// and the dotlock are held.
func (f *Folder) flushPendingLocked(withUIDList bool) error {
	c := &f.cs
	if len(c.pending) == 0 {
		return nil
	}
	if withUIDList {
		if err := f.syncUIDList(); err != nil {
			return ioErr("maildir: fsync uidlist", err)
		}
	}
	dirs := map[string]bool{}
	for _, p := range c.pending {
		dirs[filepath.Dir(f.path(p.e.name()))] = true
	}
	for d := range dirs {
		if err := syncDir(d); err != nil {
			return ioErr("maildir: sync", err)
		}
	}
	for _, p := range c.pending {
		p.durable, p.failed = true, nil
	}
	f.publishReadyLocked(c)
	return nil
}

// The background committer lets deferred deliveries gather for
// deferDelay before numbering them together (unless someone waits for
// them: see awaitDeferred). While they keep coming (deferBusy or more
// in a round), it doubles the wait up to maxDeferDelay, so that a stream
// of deliveries costs a few fsyncs of dovecot-uidlist a second: each is
// a flush of the disk cache, and at a hundred a second they slowed the
// deliveries themselves by a fifth here. Sessions then learn of new mail
// up to maxDeferDelay after it was stored.
const (
	deferDelay    = 10 * time.Millisecond
	maxDeferDelay = 100 * time.Millisecond
	deferBusy     = 8
)

// deferAdd makes the directory holding a deferred delivery's link durable
// and queues it for the folder's background committer, starting it if
// needed. It returns once the message file is durable.
func (f *Folder) deferAdd(p *pendingAdd, dir string) error {
	c := &f.cs
	group := &c.newDirSync
	if !p.e.inNew {
		group = &c.curDirSync
	}
	if err := group.do(func() error { return syncDir(dir) }); err != nil {
		return ioErr("maildir: sync", err)
	}
	// Counted at once, so that the next delivery's quota check sees it.
	f.acct.quota.add(p.size, 1)
	p.async = true
	c.qmu.Lock()
	c.toNumber = append(c.toNumber, p)
	c.deferred.Add(1)
	start := !c.running
	c.running = true
	c.qmu.Unlock()
	if start {
		f.acct.st.committers.add()
		go f.commitDeferred(c)
	}
	return nil
}

// commitDeferred is the background committer: it numbers the queued
// adds together, fsyncs dovecot-uidlist once for them and publishes them,
// until the queue is empty.
func (f *Folder) commitDeferred(c *commitState) {
	defer f.acct.st.committers.done()
	delay := deferDelay
	t := time.NewTimer(delay)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-c.hurry:
		}
		f.mu.Lock()
		f.numberQueuedLocked(c)
		var batch []*pendingAdd
		for _, q := range c.pending {
			if q.async && !q.durable {
				batch = append(batch, q)
			}
		}
		f.mu.Unlock()
		if len(batch) > 0 {
			f.commitDeferredBatch(c, batch)
		}
		if f.committerDone(c) {
			return
		}
		if len(batch) >= deferBusy {
			delay = min(2*delay, maxDeferDelay)
		} else {
			delay = deferDelay
		}
		t.Reset(delay)
	}
}

// committerDone reports whether the background committer has nothing
// left to do, and if so marks it stopped. Nothing is left when no
// delivery waits for a number and none numbered waits for its fsync: an
// APPEND's numbering may have taken deliveries queued behind it, which
// its own fsync does not cover.
func (f *Folder) committerDone(c *commitState) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	c.qmu.Lock()
	defer c.qmu.Unlock()
	if len(c.toNumber) > 0 {
		return false
	}
	for _, q := range c.pending {
		if q.async && !q.durable {
			return false
		}
	}
	c.running = false
	return true
}

// commitDeferredBatch fsyncs dovecot-uidlist for numbered deferred
// deliveries and publishes them.
func (f *Folder) commitDeferredBatch(c *commitState, batch []*pendingAdd) {
	err := c.ulSync.do(f.syncUIDList)
	if err != nil {
		err = ioErr("maildir: fsync uidlist", err)
		f.acct.st.log.Error("numbering deliveries failed; the next scan numbers them", "user", f.acct.user, "folder", f.name, "err", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, q := range batch {
		if !q.durable {
			q.durable, q.failed = true, err
		}
	}
	f.publishReadyLocked(c)
}

// hurryDeferred makes the folder's background committer, if it waits,
// number the deliveries queued at once.
func (f *Folder) hurryDeferred() {
	select {
	case f.cs.hurry <- struct{}{}:
	default:
	}
}

// awaitDeferred waits until every deferred delivery queued before the
// call is numbered and published (or dropped).
func (f *Folder) awaitDeferred() {
	c := &f.cs
	target := c.deferred.Load()
	if c.settled.Load() >= target {
		return // nothing to wait for: no lock on the read path
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for c.settled.Load() < target {
		f.hurryDeferred()
		w := c.wake
		f.mu.Unlock()
		<-w
		f.mu.Lock()
	}
}

// activity counts running goroutines that a Close must wait for.
type activity struct {
	mu   sync.Mutex
	n    int
	idle chan struct{} // closed when n drops to 0; nil while n is 0
}

func (a *activity) add() {
	a.mu.Lock()
	if a.n == 0 {
		a.idle = make(chan struct{})
	}
	a.n++
	a.mu.Unlock()
}

func (a *activity) done() {
	a.mu.Lock()
	a.n--
	if a.n == 0 {
		close(a.idle)
		a.idle = nil
	}
	a.mu.Unlock()
}

// wait returns once no goroutine counted is running.
func (a *activity) wait() {
	a.mu.Lock()
	idle := a.idle
	a.mu.Unlock()
	if idle != nil {
		<-idle
	}
}
