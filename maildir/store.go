package maildir

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"postern/maildir/dovecot"
)

// DefaultWatchInterval is how often open folders are checked for changes
// made by other processes when Options.WatchInterval is zero.
const DefaultWatchInterval = time.Second

// Options configures a Store. The zero value works.
type Options struct {
	// Hostname goes into new file names; os.Hostname() when empty.
	Hostname string
	// Quota returns an account's limits; 0 means unlimited. Nil means
	// no quota for anyone.
	Quota func(user string) (maxBytes, maxMessages int64)
	// Logger receives the store's log lines; slog.Default() when nil.
	Logger *slog.Logger
	// WatchInterval is how often open folders are rescanned for changes
	// made by other processes (Dovecot, scripts, mv); default 1s. A
	// negative value turns the watcher off (Rescan still works).
	WatchInterval time.Duration
}

// Store is the message store under one root directory (<data>/mail). It
// is safe for concurrent use; there should be one Store per root in a
// process so that change events reach every session.
type Store struct {
	root     string
	opts     Options
	log      *slog.Logger
	host     string // for file names, made safe
	lockHost string // for dotlocks, as is
	pid      int
	seq      atomic.Uint64

	mu       sync.Mutex
	accounts map[string]*Account
	closed   bool

	stop chan struct{}
	wg   sync.WaitGroup
	// committers counts the running background committers (see
	// Deliver); Close waits for them.
	committers activity
	// lockSrc is the file the store's dotlocks are linked from (nil:
	// each lock is made from a temporary file).
	lockSrc *dovecot.LockSource
}

// Open opens (creating it if needed) the store rooted at root.
func Open(root string, opts Options) (*Store, error) {
	if root == "" {
		return nil, fmt.Errorf("maildir: open: empty root")
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, ioErr("maildir: open root", err)
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("maildir: open root: %w", err)
	}
	// Dotlocks name the machine as Dovecot's do (the real host name),
	// so a lock left by a dead process of this machine is recognised
	// whatever name goes into file names.
	lockHost, _ := os.Hostname()
	host := opts.Hostname
	if host == "" {
		host = lockHost
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.WatchInterval == 0 {
		opts.WatchInterval = DefaultWatchInterval
	}
	s := &Store{
		root:     abs,
		opts:     opts,
		log:      opts.Logger.With("component", "maildir"),
		host:     dovecot.SafeHost(host),
		lockHost: lockHost,
		pid:      os.Getpid(),
		accounts: map[string]*Account{},
		stop:     make(chan struct{}),
	}
	s.lockSrc = dovecot.OpenLockSource(abs, lockHost)
	if opts.WatchInterval > 0 {
		s.wg.Add(1)
		go s.watch(opts.WatchInterval)
	}
	return s, nil
}

// Close stops the watcher, waits for deferred deliveries to be numbered
// (see Deliver), writes the index of every loaded folder (see indexFile)
// and the quota changes not yet in maildirsize. Folders stay usable for calls in flight.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	close(s.stop)
	s.wg.Wait()
	for _, a := range s.accountList() {
		for _, f := range a.openFolders() {
			f.hurryDeferred()
		}
	}
	s.committers.wait()
	s.saveIndexes()
	for _, a := range s.accountList() {
		a.quota.close()
	}
	s.lockSrc.Close()
	return nil
}

// Account returns the account of user ("local@domain", already
// normalised), creating its Maildir and default folders on first use.
func (s *Store) Account(user string) (*Account, error) {
	rel, err := checkUser(user)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.accounts[user]; a != nil {
		return a, nil
	}
	a, err := openAccount(s, user, filepath.Join(s.root, rel))
	if err != nil {
		return nil, err
	}
	s.accounts[user] = a
	return a, nil
}

// nextBase returns a new unique base name for a file created now.
func (s *Store) nextBase(t time.Time) string {
	return dovecot.UniqueBase(t, s.pid, s.seq.Add(1), s.host)
}

// accountList returns the accounts opened so far.
func (s *Store) accountList() []*Account {
	s.mu.Lock()
	defer s.mu.Unlock()
	accts := make([]*Account, 0, len(s.accounts))
	for _, a := range s.accounts {
		accts = append(accts, a)
	}
	return accts
}

// watch rescans open folders every interval until Close.
func (s *Store) watch(every time.Duration) {
	defer s.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		for _, a := range s.accountList() {
			for _, f := range a.openFolders() {
				if err := f.rescanIfChanged(); err != nil {
					s.log.Warn("rescan failed", "user", a.user, "folder", f.Name(), "err", err)
				}
			}
		}
	}
}
