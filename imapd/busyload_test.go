package imapd

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	imap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"postern/accounts/testkit"
)

// heaviestSearch is about the most work a program within the bounds asks
// for per message: MaxSearchDepth nested ORs of TEXT keys that match
// nothing, so every message's text is scanned at every level.
func heaviestSearch() *imap.SearchCriteria {
	c := &imap.SearchCriteria{Text: []string{"no such words"}}
	for range MaxSearchDepth {
		c = &imap.SearchCriteria{Or: [][2]imap.SearchCriteria{{{Text: []string{"nor these"}}, *c}}}
	}
	return c
}

// TestBusyUserLeavesOthersServed is the attacker's scenario with the bomb
// replaced by the heaviest search still accepted (the bomb itself is now
// refused at once, see TestSearchBombRefusedAtOnce): 20 sessions of anna
// run it at once over 2,000 messages. Anna's searches take turns, two at
// a time; bob's SELECT, FETCH ENVELOPE and SEARCH are answered meanwhile
// (each within 2 s: a bound against starvation, not a speed target), and
// the server's heap and stacks grow by less than 100 MB.
func TestBusyUserLeavesOthersServed(t *testing.T) {
	t.Parallel()
	const sessions = 20
	e := newEnv(t, Config{BusyWait: 10 * time.Minute})
	fillInbox(t, e, testkit.AnnaUser, 2000)
	fillInbox(t, e, testkit.BobUser, 200)

	annas := make([]*imapclient.Client, sessions)
	for i := range annas {
		annas[i] = e.login(testkit.AnnaUser, testkit.AnnaPass, nil)
		if _, err := annas[i].Select("INBOX", nil).Wait(); err != nil {
			t.Fatal(err)
		}
	}
	bob := e.login(testkit.BobUser, testkit.BobPass, nil)

	gate := e.srv.costs().gate
	base := inUse()
	var peak atomic.Int64
	var annaMax atomic.Int32
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if v := int64(ms.HeapInuse + ms.StackInuse); v > peak.Load() {
				peak.Store(v)
			}
			if held, _, _, _ := gate.state(testkit.AnnaUser); int32(held) > annaMax.Load() {
				annaMax.Store(int32(held))
			}
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()

	start := time.Now()
	var wg sync.WaitGroup
	var annaDone atomic.Int32
	for i, c := range annas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer annaDone.Add(1)
			d, err := c.Search(heaviestSearch(), nil).Wait()
			if err != nil || len(d.AllSeqNums()) != 0 {
				t.Errorf("anna %d: SEARCH: %v, %v", i, d, err)
			}
		}()
	}

	var worst time.Duration
	rounds := 0
	timed := func(what string, f func() error) {
		t.Helper()
		t0 := time.Now()
		err := f()
		d := time.Since(t0)
		worst = max(worst, d)
		if err != nil {
			t.Errorf("bob %s: %v", what, err)
		}
		if d > 2*time.Second {
			t.Errorf("bob %s took %v while anna searched", what, d)
		}
	}
	for annaDone.Load() < sessions {
		rounds++
		timed("SELECT", func() error { _, err := bob.Select("INBOX", nil).Wait(); return err })
		timed("FETCH", func() error {
			msgs, err := bob.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{UID: true, Flags: true, Envelope: true}).Collect()
			if err == nil && len(msgs) != 200 {
				t.Errorf("bob FETCH: %d messages", len(msgs))
			}
			return err
		})
		timed("SEARCH", func() error {
			d, err := bob.Search(&imap.SearchCriteria{Text: []string{"filler 19"}}, nil).Wait()
			if err == nil && len(d.AllSeqNums()) != 11 { // 19, 190..199
				t.Errorf("bob SEARCH: %v", d.AllSeqNums())
			}
			return err
		})
	}
	wg.Wait()
	close(stop)
	<-sampled
	growth := peak.Load() - base
	t.Logf("%d heaviest searches of anna in %v; bob: %d rounds, slowest command %v; anna held at most %d slots; heap+stacks peak +%.1f MB",
		sessions, time.Since(start).Round(time.Millisecond), rounds, worst.Round(time.Millisecond), annaMax.Load(), float64(growth)/1e6)
	if n := annaMax.Load(); n > DefaultMaxBusyCommandsPerUser {
		t.Errorf("anna held %d slots at once, want at most %d", n, DefaultMaxBusyCommandsPerUser)
	}
	if growth > 100<<20 {
		t.Errorf("heap and stacks grew by %.1f MB, want < 100 MB", float64(growth)/1e6)
	}
}
