package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"time"
)

func init() {
	register(mode{
		name:    "maildir",
		summary: "write N generated messages (2-20 KiB, some multipart) into a Maildir's cur/, for the imap mode",
		run:     runMaildir,
	})
}

// maildirMax bounds -n (a million messages is about 11 GB).
const maildirMax = 1_000_000

// maildirResult is the JSON line of the maildir mode.
type maildirResult struct {
	Mode     string  `json:"mode"`
	Dir      string  `json:"dir"`
	Messages int     `json:"messages"`
	Bytes    int64   `json:"bytes"`
	Seconds  float64 `json:"seconds"`
}

// runMaildir fills a Maildir with generated messages. The files go
// straight into cur/ the way a delivery agent names them
// ("<sec>.M<i>P1.bench,S=<size>,W=<crlf size>:2,<flags>"), with the
// message's Date as modification time (the internal date), so any IMAP
// server reading the Maildir numbers them on its first scan. Messages are
// deterministic for a -seed; no fsync (benchmark data).
func runMaildir(args []string, out io.Writer) error {
	fs := newFlagSet("maildir")
	dir := fs.String("dir", "", "Maildir to fill (created, with cur/ new/ tmp/); must hold no cur/ files yet")
	n := fs.Int("n", 1000, "number of messages")
	to := fs.String("to", "anna@bench.test", "recipient address in the headers")
	seed := fs.Uint64("seed", 1, "generator seed")
	workers := fs.Int("workers", 4, "parallel writers")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" {
		return errors.New("-dir is required")
	}
	if *n < 1 || *n > maildirMax {
		return fmt.Errorf("-n %d out of range 1..%d", *n, maildirMax)
	}
	if *workers < 1 || *workers > 64 {
		return fmt.Errorf("-workers %d out of range 1..64", *workers)
	}
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(*dir, sub), 0o700); err != nil {
			return fmt.Errorf("maildir: %w", err)
		}
	}
	if ents, err := os.ReadDir(filepath.Join(*dir, "cur")); err != nil || len(ents) > 0 {
		return fmt.Errorf("maildir %s: cur/ must be empty (%d entries, %v)", *dir, len(ents), err)
	}
	start := time.Now()
	total, err := writeMaildir(filepath.Join(*dir, "cur"), *n, *to, *seed, *workers)
	if err != nil {
		return err
	}
	return writeResult(out, maildirResult{Mode: "maildir", Dir: *dir, Messages: *n, Bytes: total, Seconds: time.Since(start).Seconds()})
}

// writeMaildir writes messages 0..n-1 into cur with the given number of
// parallel writers and returns the bytes written.
func writeMaildir(cur string, n int, to string, seed uint64, workers int) (int64, error) {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		total int64
		first error
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var sum int64
			for i := w; i < n; i += workers {
				k, err := writeGenMessage(cur, i, n, to, seed)
				if err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					return
				}
				sum += k
			}
			mu.Lock()
			total += sum
			mu.Unlock()
		}()
	}
	wg.Wait()
	return total, first
}

// writeGenMessage writes message i into cur and returns its size.
func writeGenMessage(cur string, i, n int, to string, seed uint64) (int64, error) {
	r := rand.New(rand.NewPCG(seed, uint64(i)))
	msg, date := genMessage(r, i, n, to)
	name := fmt.Sprintf("%d.M%dP1.bench,S=%d,W=%d:2,%s", date.Unix(), i, len(msg), len(msg)+bytes.Count(msg, []byte{'\n'}), genFlags(r, i, n))
	p := filepath.Join(cur, name)
	if err := os.WriteFile(p, msg, 0o600); err != nil {
		return 0, fmt.Errorf("maildir: %w", err)
	}
	if err := os.Chtimes(p, date, date); err != nil {
		return 0, fmt.Errorf("maildir: %w", err)
	}
	return int64(len(msg)), nil
}

// genFlags returns the Maildir flag letters of message i of n, as in
// the inbox of someone who reads their mail: everything seen except about
// half of the newest 3% (so the first unseen message is deep in a large
// folder), some answered, a few flagged.
func genFlags(r *rand.Rand, i, n int) string {
	if i >= n-n*3/100 && r.IntN(2) == 0 {
		return ""
	}
	x := r.IntN(100)
	switch {
	case x < 3:
		return "FS"
	case x < 15:
		return "RS"
	default:
		return "S"
	}
}
