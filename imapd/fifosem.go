package imapd

import (
	"errors"
	"sync"
	"time"
)

// fifoSem is a counting semaphore whose waiters are served in arrival
// order, and keep their place while they do something else (write a
// progress notice) between waits.
type fifoSem struct {
	size  int
	mu    sync.Mutex
	free  int
	queue []chan struct{} // one per waiter, in arrival order
}

func newFIFOSem(n int) *fifoSem { return &fifoSem{size: n, free: n} }

// errWaitTimeout is acquire's error when the deadline passed first.
var errWaitTimeout = errors.New("imapd: wait in line timed out")

// acquire takes a slot. While it waits it calls notice every interval;
// an error from notice (the client is gone) ends the wait with that
// error, and so does the deadline (errWaitTimeout).
func (s *fifoSem) acquire(deadline time.Time, interval time.Duration, notice func() error) error {
	s.mu.Lock()
	if s.free > 0 && len(s.queue) == 0 {
		s.free--
		s.mu.Unlock()
		return nil
	}
	ch := make(chan struct{}, 1)
	s.queue = append(s.queue, ch)
	s.mu.Unlock()

	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ch:
			return nil
		case <-timer.C:
			s.abandon(ch)
			return errWaitTimeout
		case <-tick.C:
			if err := notice(); err != nil {
				s.abandon(ch)
				return err
			}
		}
	}
}

// abandon leaves the line; a slot granted meanwhile is passed on.
func (s *fifoSem) abandon(ch chan struct{}) {
	s.mu.Lock()
	for i, c := range s.queue {
		if c == ch {
			s.queue = append(s.queue[:i], s.queue[i+1:]...)
			s.mu.Unlock()
			return
		}
	}
	s.mu.Unlock()
	<-ch // granted after all: ours to release
	s.release()
}

// release frees a slot, handing it to the first waiter if any.
func (s *fifoSem) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) > 0 {
		ch := s.queue[0]
		s.queue[0] = nil
		s.queue = s.queue[1:]
		ch <- struct{}{} // buffered: never blocks
		return
	}
	s.free++
}

// state reports how many slots are taken and how many wait in line.
func (s *fifoSem) state() (held, waiting int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.size - s.free, len(s.queue)
}
