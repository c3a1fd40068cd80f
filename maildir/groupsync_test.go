package maildir

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestSyncGroupShares: concurrent callers share fsyncs, each caller is
// covered by an fsync that started after it asked, and errors reach the
// callers of the failed round only.
func TestSyncGroupShares(t *testing.T) {
	t.Parallel()
	var g syncGroup
	var runs, changes atomic.Int64
	var covered sync.Map // change number -> covered
	fn := func() error {
		runs.Add(1)
		upTo := changes.Load()
		time.Sleep(2 * time.Millisecond)
		for i := int64(1); i <= upTo; i++ {
			covered.Store(i, true)
		}
		return nil
	}
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := changes.Add(1)
			if err := g.do(fn); err != nil {
				t.Error(err)
			}
			if _, ok := covered.Load(n); !ok {
				t.Errorf("change %d returned before an fsync covered it", n)
			}
		}()
	}
	wg.Wait()
	if r := runs.Load(); r >= 32 || r < 1 {
		t.Errorf("%d fsyncs for 32 concurrent callers", r)
	}
	boom := errors.New("boom")
	if err := g.do(func() error { return boom }); err != boom {
		t.Fatalf("failed fsync reported %v", err)
	}
	if err := g.do(func() error { return nil }); err != nil {
		t.Fatalf("later fsync reported %v", err)
	}
}
