package main

import (
	"errors"
	"net"
	"testing"
	"time"
)

// The port 25 hand-over: connections reach the current server only, and
// closing a replaced server's listener leaves the port open.
func TestHandoffMovesNewConnectionsToTheNextServer(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	h := newHandoff(ln)
	first := h.current()

	accept := func(v *virtualListener) (net.Conn, error) {
		type res struct {
			c   net.Conn
			err error
		}
		ch := make(chan res, 1)
		go func() { c, err := v.Accept(); ch <- res{c, err} }()
		select {
		case r := <-ch:
			return r.c, r.err
		case <-time.After(10 * time.Second):
			t.Fatal("Accept blocked")
			return nil, nil
		}
	}
	dial := func() net.Conn {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}

	dial()
	if c, err := accept(first); err != nil || c == nil {
		t.Fatalf("first server: %v", err)
	}
	second := h.next()
	first.Close()
	if _, err := accept(first); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("closed first listener: Accept gave %v", err)
	}
	dial()
	if c, err := accept(second); err != nil || c == nil {
		t.Fatalf("second server after hand-over: %v", err)
	}
	if second.Addr().String() != ln.Addr().String() {
		t.Errorf("Addr %v, want %v", second.Addr(), ln.Addr())
	}
	ln.Close()
	if _, err := accept(second); err == nil {
		t.Fatal("Accept after the real listener closed succeeded")
	}
}
