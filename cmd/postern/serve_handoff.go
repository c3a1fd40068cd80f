package main

import (
	"net"
	"sync"
)

// handoff lets one bound listener be served by a succession of servers:
// connections accepted on the real listener go to the current virtual
// listener. Port 25 uses it to move from a server without STARTTLS to one
// with it when the first certificate arrives, without closing the port.
type handoff struct {
	ln  net.Listener
	mu  sync.Mutex
	cur *virtualListener
}

func newHandoff(ln net.Listener) *handoff {
	h := &handoff{ln: ln, cur: newVirtualListener(ln.Addr())}
	go h.acceptLoop()
	return h
}

// current returns the virtual listener that receives connections now.
func (h *handoff) current() *virtualListener {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.cur
}

// next makes a new virtual listener current and returns it. The previous
// one receives no more connections (it stays open until its server
// closes it).
func (h *handoff) next() *virtualListener {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.cur = newVirtualListener(h.ln.Addr())
	return h.cur
}

func (h *handoff) acceptLoop() {
	for {
		c, err := h.ln.Accept()
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				continue
			}
			h.mu.Lock()
			h.cur.fail(err)
			h.mu.Unlock()
			return
		}
		h.deliver(c)
	}
}

// deliver hands c to the current virtual listener's Accept; if that one
// closes meanwhile, to its successor; c is closed when there is none.
func (h *handoff) deliver(c net.Conn) {
	for {
		v := h.current()
		select {
		case v.conns <- c:
			return
		case <-v.done:
			if h.current() == v {
				c.Close()
				return
			}
		}
	}
}

// virtualListener is a net.Listener fed by a handoff.
type virtualListener struct {
	addr  net.Addr
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
	err   error
}

func newVirtualListener(addr net.Addr) *virtualListener {
	return &virtualListener{addr: addr, conns: make(chan net.Conn), done: make(chan struct{})}
}

// Accept returns the next connection, or net.ErrClosed once closed.
func (v *virtualListener) Accept() (net.Conn, error) {
	select {
	case c := <-v.conns:
		return c, nil
	case <-v.done:
		if v.err != nil {
			return nil, v.err
		}
		return nil, net.ErrClosed
	}
}

// Close stops this virtual listener only; the real one stays open.
func (v *virtualListener) Close() error {
	v.once.Do(func() { close(v.done) })
	return nil
}

// fail closes the virtual listener with the real listener's error.
func (v *virtualListener) fail(err error) {
	v.once.Do(func() { v.err = err; close(v.done) })
}

func (v *virtualListener) Addr() net.Addr { return v.addr }
