package testkit

import (
	"errors"
	"fmt"
	"net"
	"testing"
)

// Serving is the serve loops of the servers a test runs on loopback
// listeners, stopped when the test ends.
type Serving struct {
	t     testing.TB
	loops []chan error
}

// NewServing prepares serve loops for t. When the test ends it calls stop
// (the servers' Shutdown), then checks that every loop returned an error
// matching closed (the server's ErrServerClosed), and logs logs (the
// servers' log) if the test failed.
func NewServing(t testing.TB, closed error, logs fmt.Stringer, stop func()) *Serving {
	s := &Serving{t: t}
	t.Cleanup(func() {
		stop()
		for _, done := range s.loops {
			if err := <-done; !errors.Is(err, closed) {
				t.Errorf("Serve returned %v, want %v", err, closed)
			}
		}
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	return s
}

// Serve runs serve (a server's Serve or ServeTLS) on a new listener on
// 127.0.0.1 in its own goroutine, and returns the listener's address.
// The server owns the listener: its shutdown closes it.
func (s *Serving) Serve(serve func(net.Listener) error) string {
	s.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		s.t.Fatalf("testkit: %v", err)
	}
	done := make(chan error, 1)
	s.loops = append(s.loops, done)
	go func() { done <- serve(ln) }()
	return ln.Addr().String()
}
