package maildir

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"postern/maildir/dovecot"
	"postern/maildir/durable"
)

// benchMessages is the size of the benchmark folder.
const benchMessages = 100_000

// benchUser owns the benchmark folder (its INBOX).
const benchUser = "big@example.org"

// fixture is the 100,000-message folder, built once per test binary and
// removed by TestMain.
var fixture struct {
	once sync.Once
	root string
	err  error
}

// bigFolderRoot returns the root of a store whose benchUser INBOX holds
// benchMessages real message files with a complete dovecot-uidlist. The
// files are written directly (no fsync, no store calls): the fast path.
func bigFolderRoot(b *testing.B) string {
	b.Helper()
	fixture.once.Do(func() {
		fixture.root, fixture.err = buildBigFolder()
	})
	if fixture.err != nil {
		b.Fatal(fixture.err)
	}
	return fixture.root
}

// removeBenchFixture deletes the fixture, if one was built.
func removeBenchFixture() {
	if fixture.root != "" {
		os.RemoveAll(fixture.root)
	}
}

func buildBigFolder() (string, error) {
	root, err := os.MkdirTemp("", "postern-maildir-bench-")
	if err != nil {
		return "", err
	}
	s, err := Open(root, Options{Hostname: "bench", WatchInterval: -1})
	if err != nil {
		return root, err
	}
	defer s.Close()
	a, err := s.Account(benchUser)
	if err != nil {
		return root, err
	}
	dir := a.folderDir(inboxName)
	kws := &dovecot.Keywords{}
	for _, k := range []string{"$Work", "$Label1", "later"} {
		kws.Add(k)
	}
	if err := os.WriteFile(filepath.Join(dir, dovecot.KeywordsFile), kws.Format(), 0o600); err != nil {
		return root, err
	}
	l := &dovecot.UIDList{Header: dovecot.NewUIDHeader()}
	now := time.Now().Add(-time.Hour).Unix()
	var msg bytes.Buffer
	for i := 1; i <= benchMessages; i++ {
		msg.Reset()
		fmt.Fprintf(&msg, "From: Sender %d <s%d@example.net>\r\nTo: big@example.org\r\nSubject: message number %d\r\n"+
			"Date: Mon, 2 Mar 2026 10:00:00 +0000\r\nMessage-ID: <%d@bench>\r\nContent-Type: text/plain\r\n\r\n", i, i, i, i)
		for j := 0; j < 4+i%8; j++ {
			msg.WriteString("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod.\r\n")
		}
		base := dovecot.WithSizes(dovecot.UniqueBase(time.Unix(now+int64(i/100), 0), 1, uint64(i), "bench"), int64(msg.Len()), int64(msg.Len()))
		var fs dovecot.FlagSet
		if i%3 == 0 {
			fs.Sys |= dovecot.Seen
		}
		if i%17 == 0 {
			fs.Sys |= dovecot.Flagged
			fs.Keywords |= 1 // a
		}
		name := filepath.Join(dir, "cur", dovecot.FullName(base, fs.Info()))
		if err := os.WriteFile(name, msg.Bytes(), 0o600); err != nil {
			return root, err
		}
		l.Records = append(l.Records, dovecot.UIDRecord{UID: uint32(i), Base: base, VSize: -1})
	}
	l.Header.Next = benchMessages + 1
	if err := os.WriteFile(filepath.Join(dir, dovecot.UIDListFile), l.Format(), 0o600); err != nil {
		return root, err
	}
	// Flush the fixture now, so that its writeback does not slow the
	// fsyncs of the delivery benchmarks.
	syscall.Sync()
	return root, nil
}

// openBig opens the fixture's INBOX in a new store.
func openBig(b *testing.B) (*Store, *Folder) {
	b.Helper()
	s, err := Open(bigFolderRoot(b), Options{Hostname: "bench", WatchInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	return s, testFolder(b, s, benchUser, inboxName)
}

// BenchmarkOpen100k: a new store opens the 100,000-message folder with
// its UID map ready (warm cache). Reports the heap the open folder holds.
func BenchmarkOpen100k(b *testing.B) {
	s, _ := openBig(b) // build the fixture, warm the cache
	s.Close()
	b.ResetTimer()
	var heap float64
	for i := 0; i < b.N; i++ {
		var s *Store
		var f *Folder
		heap = timedHeap(b, func() { s, f = openBig(b) })
		if st, _ := f.Status(); st.Messages < benchMessages {
			b.Fatalf("%d messages", st.Messages)
		}
		s.Close()
	}
	b.ReportMetric(heap, "MiB-heap")
}

// timedHeap times fn (the benchmark timer runs only during fn) and
// returns the MiB of heap it left allocated, after a collection.
func timedHeap(b *testing.B, fn func()) float64 {
	b.StopTimer()
	defer b.StartTimer()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.StartTimer()
	fn()
	b.StopTimer()
	runtime.GC()
	runtime.ReadMemStats(&after)
	return float64(after.HeapAlloc-before.HeapAlloc) / (1 << 20)
}

// BenchmarkStatus100k: STATUS of the folder (from memory).
func BenchmarkStatus100k(b *testing.B) {
	s, f := openBig(b)
	defer s.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := f.Status(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMessages100k: sizes and flags of every message (FETCH 1:*
// (UID FLAGS RFC822.SIZE)).
func BenchmarkMessages100k(b *testing.B) {
	s, f := openBig(b)
	defer s.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if msgs, _, err := f.Messages(); err != nil || len(msgs) < benchMessages {
			b.Fatal(len(msgs), err)
		}
	}
}

// BenchmarkReadByUID: a whole message by UID (BODY[]).
func BenchmarkReadByUID(b *testing.B) {
	s, f := openBig(b)
	defer s.Close()
	buf := make([]byte, 64<<10)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rc, _, err := f.Open(uint32(1 + rand.IntN(benchMessages)))
		if err != nil {
			b.Fatal(err)
		}
		for {
			if _, err := rc.Read(buf); err != nil {
				break
			}
		}
		rc.Close()
	}
}

// BenchmarkHeader: the header block of a message by UID.
func BenchmarkHeader(b *testing.B) {
	s, f := openBig(b)
	defer s.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := f.Header(uint32(1 + rand.IntN(benchMessages))); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSetFlags: STORE +FLAGS/-FLAGS (\Flagged) on one message,
// durable (rename, directory fsync).
func BenchmarkSetFlags(b *testing.B) {
	s, f := openBig(b)
	defer s.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		op := FlagsAdd
		if i%2 == 1 {
			op = FlagsRemove
		}
		if _, err := f.SetFlags([]uint32{uint32(1 + (i/2)%benchMessages)}, op, []string{FlagFlagged}, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// msg4k is a 4 KiB message with CRLF line ends.
var msg4k = func() []byte {
	var b bytes.Buffer
	b.WriteString("From: a@example.net\r\nTo: big@example.org\r\nSubject: four KiB\r\n\r\n")
	for b.Len() < 4096-80 {
		b.WriteString("0123456789012345678901234567890123456789012345678901234567890123456789012\r\n")
	}
	for b.Len() < 4096 {
		b.WriteString("x")
	}
	return b.Bytes()
}()

// BenchmarkDeliver4K: durable delivery of a 4 KiB message, with 1 and 8
// concurrent deliverers, into an empty folder and into the
// 100,000-message one, against the raw durable sequence measured in the
// same run: durable.WriteFile (write a temporary file, fsync, rename into
// new/, fsync the directory) of the same bytes.
func BenchmarkDeliver4K(b *testing.B) {
	for _, par := range []int{1, 8} {
		b.Run("raw/p"+strconv.Itoa(par), func(b *testing.B) {
			dir := filepath.Join(b.TempDir(), "new")
			if err := os.Mkdir(dir, 0o700); err != nil {
				b.Fatal(err)
			}
			var n atomic.Uint64
			deliverLoop(b, par, func() error {
				return durable.WriteFile(filepath.Join(dir, strconv.FormatUint(n.Add(1), 10)), msg4k, 0o600)
			})
		})
		b.Run("empty/p"+strconv.Itoa(par), func(b *testing.B) {
			s := openTestStore(b, b.TempDir())
			deliverLoop(b, par, func() error { return deliverErr(s, "small@example.org") })
		})
		b.Run("100k/p"+strconv.Itoa(par), func(b *testing.B) {
			s, _ := openBig(b)
			defer s.Close()
			deliverLoop(b, par, func() error { return deliverErr(s, benchUser) })
		})
	}
}

// deliverLoop runs op b.N times over par goroutines and reports msg/s.
func deliverLoop(b *testing.B, par int, op func() error) {
	b.SetBytes(int64(len(msg4k)))
	b.ResetTimer()
	start := time.Now()
	if par == 1 {
		for i := 0; i < b.N; i++ {
			if err := op(); err != nil {
				b.Fatal(err)
			}
		}
	} else {
		var wg sync.WaitGroup
		var left atomic.Int64
		left.Store(int64(b.N))
		for range par {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for left.Add(-1) >= 0 {
					if err := op(); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msg/s")
}

func deliverErr(s *Store, user string) error {
	errs, err := s.Deliver(context.Background(), bytes.NewReader(msg4k), []Target{{User: user}})
	if err != nil {
		return err
	}
	return errs[0]
}

// BenchmarkDeliverVsRaw4K measures Postern's delivery and the raw
// durable sequence in alternating phases of phaseOps operations (each
// with par goroutines) within one run, so that a machine whose fsync
// speed drifts affects all alike. The phases: raw; Deliver, which lasts
// until the background committer has numbered and published every
// delivery of it; and the raw sequence with its directory fsync shared
// among the writers that finish together (syncGroup: group commit and
// nothing else, the reference for what sharing alone gains on this
// machine). It reports the rates, ratio = Deliver rate / raw rate and
// grouped-ratio = grouped raw rate / raw rate.
func BenchmarkDeliverVsRaw4K(b *testing.B) {
	for _, target := range []string{"empty", "100k"} {
		for _, par := range []int{1, 8} {
			b.Run(target+"/p"+strconv.Itoa(par), func(b *testing.B) {
				var s *Store
				user := "small@example.org"
				if target == "100k" {
					s, _ = openBig(b)
					defer s.Close()
					user = benchUser
				} else {
					s = openTestStore(b, b.TempDir())
				}
				inbox := testFolder(b, s, user, inboxName)
				// The raw sequence runs beside the folder, so that both
				// get the same place on the disk (a fresh directory
				// elsewhere can be faster or slower to create files in).
				// Each sequence has its own directory, which grows as new/
				// does.
				dir, groupDir := inbox.path("postern-bench-raw"), inbox.path("postern-bench-grouped")
				for _, d := range []string{dir, groupDir} {
					os.RemoveAll(d)
					if err := os.Mkdir(d, 0o700); err != nil {
						b.Fatal(err)
					}
					defer os.RemoveAll(d)
				}
				var n atomic.Uint64
				raw := func() error {
					return durable.WriteFile(filepath.Join(dir, strconv.FormatUint(n.Add(1), 10)), msg4k, 0o600)
				}
				var dirSync syncGroup
				grouped := func() error {
					path := filepath.Join(groupDir, strconv.FormatUint(n.Add(1), 10))
					tmp := path + ".tmp"
					if err := writeSynced(tmp, msg4k); err != nil {
						return err
					}
					if err := os.Rename(tmp, path); err != nil {
						return err
					}
					return dirSync.do(func() error { return durable.SyncDir(groupDir) })
				}
				store := func() error { return deliverErr(s, user) }
				const phaseOps = 64
				var rawTime, storeTime, groupedTime time.Duration
				ops := 0
				b.SetBytes(int64(len(msg4k)))
				b.ResetTimer()
				// The three phases take turns in a rotating order, so that
				// none always follows the same one (a phase can pay for
				// the write-back of the one before).
				phases := []func(k int){
					func(k int) { rawTime += runPhase(b, par, k, raw) },
					func(k int) {
						start := time.Now()
						runPhase(b, par, k, store)
						inbox.awaitDeferred()
						storeTime += time.Since(start)
					},
					func(k int) { groupedTime += runPhase(b, par, k, grouped) },
				}
				for round := 0; ops < b.N; round++ {
					k := min(phaseOps, b.N-ops)
					for i := range phases {
						phases[(round+i)%len(phases)](k)
					}
					ops += k
				}
				rawRate := float64(ops) / rawTime.Seconds()
				storeRate := float64(ops) / storeTime.Seconds()
				b.ReportMetric(rawRate, "raw-msg/s")
				b.ReportMetric(storeRate, "store-msg/s")
				groupedRate := float64(ops) / groupedTime.Seconds()
				b.ReportMetric(groupedRate, "grouped-raw-msg/s")
				b.ReportMetric(storeRate/rawRate, "ratio")
				b.ReportMetric(groupedRate/rawRate, "grouped-ratio")
			})
		}
	}
}

// writeSynced writes data to a new file at path and fsyncs it.
func writeSynced(path string, data []byte) error {
	fh, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = fh.Write(data)
	if err == nil {
		err = fh.Sync()
	}
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	return err
}

// runPhase runs op k times over par goroutines and returns the wall time.
func runPhase(b *testing.B, par, k int, op func() error) time.Duration {
	start := time.Now()
	var left atomic.Int64
	left.Store(int64(k))
	var wg sync.WaitGroup
	for range min(par, k) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for left.Add(-1) >= 0 {
				if err := op(); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return time.Since(start)
}
