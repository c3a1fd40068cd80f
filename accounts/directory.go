package accounts

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// DefaultReloadInterval is how often a Directory looks for changed files,
// so a running server sees `postern user add` within a second.
const DefaultReloadInterval = 500 * time.Millisecond

// Options configures a Directory. The zero value is usable.
type Options struct {
	// Domains are local domains from the configuration, in addition to
	// those in the domains file.
	Domains []string
	// Logger receives login failures and reload problems; nil discards.
	Logger *slog.Logger
	// Now returns the current time (tests inject a clock); nil is time.Now.
	Now func() time.Time
	// Sleep waits d or until ctx is done (tests inject it); nil uses a timer.
	Sleep func(ctx context.Context, d time.Duration) error
	// ReloadInterval is how often the files are checked for changes; 0 is
	// DefaultReloadInterval, negative disables the background reload
	// (the CLI, which reloads after its own writes).
	ReloadInterval time.Duration
	// Throttle configures failed-login throttling; zero fields take defaults.
	Throttle ThrottleConfig
	// BcryptCost is the cost of hashes written by SetPassword and AddUser,
	// and of the dummy hash checked for unknown users; 0 is DefaultBcryptCost.
	BcryptCost int
}

// Directory is the set of domains, users and aliases in one accounts
// directory. Its methods are safe for concurrent use; lookups and bcrypt
// checks take no lock shared between logins.
type Directory struct {
	dir   string
	opts  Options
	log   *slog.Logger
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error
	thr   *throttle
	known *knownSources // networks each user has logged in from
	dummy string        // bcrypt hash checked for unknown users

	tab    atomic.Pointer[table]
	loadMu sync.Mutex // serialises reloads
	stamp  [3]fileStamp

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// fileStamp identifies a version of a file for change detection.
type fileStamp struct {
	ino   uint64
	size  int64
	mtime time.Time
	found bool
}

func stampOf(path string) fileStamp {
	st, err := os.Stat(path)
	if err != nil {
		return fileStamp{}
	}
	s := fileStamp{size: st.Size(), mtime: st.ModTime(), found: true}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		s.ino = sys.Ino
	}
	return s
}

// Open loads the accounts directory dir (creating it if missing) and,
// unless opts.ReloadInterval is negative, starts watching its files.
func Open(dir string, opts Options) (*Directory, error) {
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return nil, fmt.Errorf("accounts: %w", err)
	}
	d := &Directory{dir: dir, opts: opts, log: opts.Logger, now: opts.Now, sleep: opts.Sleep,
		stop: make(chan struct{}), done: make(chan struct{})}
	if d.log == nil {
		d.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if d.now == nil {
		d.now = time.Now
	}
	if d.sleep == nil {
		d.sleep = sleepCtx
	}
	if d.opts.BcryptCost == 0 {
		d.opts.BcryptCost = DefaultBcryptCost
	}
	d.thr = newThrottle(opts.Throttle)
	d.known = loadKnownSources(filePath(dir, KnownSourcesFile), d.log, d.now())
	dummy, err := HashPassword("postern dummy password", d.opts.BcryptCost)
	if err != nil {
		return nil, err
	}
	d.dummy, _ = bcryptHash(dummy)
	if err := d.Reload(); err != nil {
		return nil, err
	}
	if opts.ReloadInterval >= 0 {
		iv := opts.ReloadInterval
		if iv == 0 {
			iv = DefaultReloadInterval
		}
		go d.watch(iv)
	} else {
		close(d.done)
	}
	return d, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops watching the files and writes the known login networks'
// refreshed last-seen times, if any are not yet on disk. Lookups keep
// answering from the last loaded state.
func (d *Directory) Close() error {
	d.once.Do(func() { close(d.stop) })
	<-d.done
	if err := d.known.flush(d.now()); err != nil {
		d.log.Error("accounts: cannot write the known login networks at close", "err", err)
		return err
	}
	return nil
}

func (d *Directory) watch(iv time.Duration) {
	defer close(d.done)
	tk := time.NewTicker(iv)
	defer tk.Stop()
	for {
		select {
		case <-d.stop:
			return
		case <-tk.C:
			if d.changed() {
				if err := d.Reload(); err != nil {
					d.log.Error("accounts: reload failed, keeping the previous state", "dir", d.dir, "err", err)
				}
			}
		}
	}
}

func (d *Directory) stamps() [3]fileStamp {
	return [3]fileStamp{
		stampOf(filePath(d.dir, UsersFile)),
		stampOf(filePath(d.dir, AliasesFile)),
		stampOf(filePath(d.dir, DomainsFile)),
	}
}

func (d *Directory) changed() bool {
	d.loadMu.Lock()
	defer d.loadMu.Unlock()
	return d.stamps() != d.stamp
}

// Reload rereads the files now. The server calls it on SIGHUP; writes
// through this Directory call it themselves.
func (d *Directory) Reload() error {
	d.loadMu.Lock()
	defer d.loadMu.Unlock()
	st := d.stamps()
	t, err := loadTable(d.dir, d.opts.Domains, d.log)
	if err != nil {
		return err
	}
	d.tab.Store(t)
	d.stamp = st
	return nil
}

func (d *Directory) table() *table { return d.tab.Load() }

// Dir returns the accounts directory.
func (d *Directory) Dir() string { return d.dir }
