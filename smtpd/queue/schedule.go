package queue

import (
	"container/heap"
	"time"
)

// entry is one scheduled attempt: deliver message id at time at. force
// makes deferred recipients due at once (operator flush).
type entry struct {
	at    time.Time
	id    string
	force bool
}

// schedule is a min-heap of entries by time. It may hold several entries
// for one id; the worker reads the envelope and decides what is due.
type schedule []entry

func (s schedule) Len() int           { return len(s) }
func (s schedule) Less(i, j int) bool { return s[i].at.Before(s[j].at) }
func (s schedule) Swap(i, j int)      { s[i], s[j] = s[j], s[i] }

// Push implements heap.Interface.
func (s *schedule) Push(x any) { *s = append(*s, x.(entry)) }

// Pop implements heap.Interface.
func (s *schedule) Pop() any {
	old := *s
	e := old[len(old)-1]
	*s = old[:len(old)-1]
	return e
}

func (s *schedule) add(e entry) { heap.Push(s, e) }

// due pops the earliest entry if it is due at now.
func (s *schedule) due(now time.Time) (entry, bool) {
	if len(*s) == 0 || (*s)[0].at.After(now) {
		return entry{}, false
	}
	return heap.Pop(s).(entry), true
}

// wait is how long until the earliest entry is due (max when empty).
func (s schedule) wait(now time.Time, max time.Duration) time.Duration {
	if len(s) == 0 {
		return max
	}
	d := s[0].at.Sub(now)
	if d > max {
		return max
	}
	return d
}
