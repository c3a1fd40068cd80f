package maildir

import "sync"

// syncGroup shares one fsync among the callers that need it at the same
// time (group commit): a caller whose change happened before an fsync
// started is covered by it; others wait for the next one, which one of
// them runs for all. The zero value is ready to use.
type syncGroup struct {
	mu      sync.Mutex
	cond    *sync.Cond
	asked   uint64 // requests so far
	done    uint64 // requests covered by finished fsyncs
	running bool
	// failFrom < me <= failTo: the fsync covering request me failed.
	failFrom, failTo uint64
	err              error
}

// do returns once fn (an fsync) has run, entirely, after this call began,
// and fn's error for that run.
func (g *syncGroup) do(fn func() error) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cond == nil {
		g.cond = sync.NewCond(&g.mu)
	}
	g.asked++
	me := g.asked
	for g.done < me {
		if g.running {
			g.cond.Wait()
			continue
		}
		g.running = true
		from, to := g.done, g.asked
		g.mu.Unlock()
		err := fn()
		g.mu.Lock()
		g.running = false
		g.done = to
		if err != nil {
			g.failFrom, g.failTo, g.err = from, to, err
		}
		g.cond.Broadcast()
	}
	if g.err != nil && me > g.failFrom && me <= g.failTo {
		return g.err
	}
	return nil
}
