package queue

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"postern/accounts/testkit"
	"postern/maildir/durable"
)

// benchMessage is a 4 KiB message.
func benchMessage(i int) string {
	h := fmt.Sprintf("From: <anna@sender.test>\r\nTo: <bob@d%d.test>\r\nSubject: bench %d\r\nMessage-ID: <%d@sender.test>\r\n\r\n", i%10, i, i)
	line := strings.Repeat("x", 76) + "\r\n"
	return h + strings.Repeat(line, (4096-len(h))/len(line))
}

// BenchmarkDelivery1000To10Domains measures submission to remote
// acceptance: 1,000 messages of 4 KiB enqueued by 8 concurrent submitters
// for 10 recipient domains, delivered over STARTTLS to a go-smtp receiver
// on loopback. One op is the whole batch; msgs/s is the throughput.
func BenchmarkDelivery1000To10Domains(b *testing.B) {
	const n = 1000
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		data := b.TempDir()
		d := newTestDNS(b)
		rcv := newReceiver(b, "127.0.0.1:0", true, nil)
		for k := 0; k < 10; k++ {
			d.add(b, fmt.Sprintf("d%d.test. MX 10 mx.d%d.test.", k, k), fmt.Sprintf("mx.d%d.test. A 127.0.0.1", k))
		}
		q := testQueue(b, data, d, portOf(rcv.addr), nil, nil)
		msgs := make([]string, n)
		for j := range msgs {
			msgs[j] = benchMessage(j)
		}
		b.StartTimer()
		start := time.Now()
		var wg sync.WaitGroup
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for j := w; j < n; j += 8 {
					if _, err := q.Enqueue(context.Background(), "anna@sender.test", []string{fmt.Sprintf("bob@d%d.test", j%10)}, strings.NewReader(msgs[j])); err != nil {
						b.Error(err)
						return
					}
				}
			}(w)
		}
		wg.Wait()
		for len(rcv.messages()) < n {
			time.Sleep(time.Millisecond)
		}
		el := time.Since(start)
		b.StopTimer()
		b.ReportMetric(float64(n)/el.Seconds(), "msgs/s")
	}
}

// BenchmarkDurableWrite4K is the reference for the queue's speed: the
// machine's rate of write + fsync + rename + fsync-dir of a 4 KiB file,
// which bounds any durable spool (a queued message costs at least two).
func BenchmarkDurableWrite4K(b *testing.B) {
	dir := b.TempDir()
	buf := []byte(benchMessage(0))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := durable.WriteFile(filepath.Join(dir, fmt.Sprint(i)), buf, 0o600); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "writes/s")
}

// The queue's memory does not grow with the bodies it holds: with 10,000
// queued 4 KiB messages (40 MiB on disk) loaded and all tried once
// (their domain's DNS fails, so all are deferred), the Go heap stays far
// below 50 MiB.
func TestMemoryWith10000Queued(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 10,000 messages")
	}
	data := t.TempDir()
	dir := filepath.Join(data, "queue")
	os.MkdirAll(dir, 0o700)
	now := time.Now()
	body := []byte(benchMessage(1))
	for i := 0; i < 10000; i++ {
		e := &Envelope{ID: fmt.Sprintf("m%06d", i), From: "anna@sender.test", Created: now, Size: int64(len(body)),
			Rcpts: []*Recipient{{Addr: fmt.Sprintf("bob%d@nowhere.test", i), State: StatePending}}}
		j, _ := json.Marshal(e)
		if err := os.WriteFile(msgPath(dir, e.ID), body, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(jsonPath(dir, e.ID), j, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	d := newTestDNS(t)
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	q := testQueue(t, data, d, "1", nil, func(c *Config) {
		c.Retry = []Duration{Duration(time.Hour)}
		c.Resolver = "127.0.0.1:1" // nothing listens: every lookup fails temporarily
		c.Workers = 64
	})
	testkit.WaitFor(t, "every message tried once", func() bool {
		ents, _ := os.ReadDir(dir)
		return len(ents) > 0 && q.attemptedAll()
	})
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("heap: %.1f MiB before, %.1f MiB after loading and trying 10,000 messages (growth %.1f MiB); Sys %.1f MiB",
		float64(before.HeapAlloc)/(1<<20), float64(after.HeapAlloc)/(1<<20), float64(grown)/(1<<20), float64(after.Sys)/(1<<20))
	if grown > 50<<20 {
		t.Fatalf("heap grew by %d bytes with 10,000 queued messages", grown)
	}
}

// attemptedAll reports whether nothing is being delivered and every
// scheduled attempt lies more than a minute ahead.
func (q *Queue) attemptedAll() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.inFlight) > 0 {
		return false
	}
	for _, e := range q.sched {
		if e.at.Before(time.Now().Add(time.Minute)) {
			return false
		}
	}
	return true
}

// BenchmarkEnqueue4K is the cost of one durable submission of a 4 KiB
// message, unsigned and with an RSA-2048 DKIM signature.
func BenchmarkEnqueue4K(b *testing.B) {
	for _, signed := range []bool{false, true} {
		name := map[bool]string{false: "unsigned", true: "dkim-rsa2048"}[signed]
		b.Run(name, func(b *testing.B) {
			data := b.TempDir()
			if signed {
				if _, _, _, err := GenerateDKIMKey(data, "sender.test", "s1", "rsa"); err != nil {
					b.Fatal(err)
				}
			}
			q, err := Open(data, DefaultConfig(), Options{})
			if err != nil {
				b.Fatal(err)
			}
			msg := benchMessage(1)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := q.Enqueue(context.Background(), "anna@sender.test", []string{"bob@d1.test"}, strings.NewReader(msg)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}
