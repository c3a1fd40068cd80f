package pop3d

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"testing"
)

// benchMessage is a 100 KB message with short lines, some starting with ".".
var benchMessage = func() []byte {
	var b strings.Builder
	b.WriteString("From: a@example.org\r\nSubject: bench\r\n\r\n")
	for i := 0; b.Len() < 100<<10; i++ {
		if i%10 == 0 {
			b.WriteString(".")
		}
		b.WriteString("The quick brown fox jumps over the lazy dog, line of the benchmark body.\r\n")
	}
	return []byte(b.String())
}()

// BenchmarkDotWriter measures dot-stuffing a message into a buffered
// writer; BenchmarkPlainCopy is the reference without stuffing.
func BenchmarkDotWriter(b *testing.B) {
	w := bufio.NewWriterSize(io.Discard, writeBufferSize)
	b.SetBytes(int64(len(benchMessage)))
	for b.Loop() {
		d := &dotWriter{w: w, bol: true}
		d.Write(benchMessage)
		d.Close()
	}
}

func BenchmarkPlainCopy(b *testing.B) {
	w := bufio.NewWriterSize(io.Discard, writeBufferSize)
	b.SetBytes(int64(len(benchMessage)))
	for b.Loop() {
		w.Write(benchMessage)
		w.WriteString(".\r\n")
	}
}

// BenchmarkSession measures, over loopback TLS against the real store,
// a whole session on a 1,000-message INBOX: login, STAT, UIDL, QUIT
// ("login_stat_uidl") and a pipelined RETR of every message ("retr_all").
func BenchmarkSession(b *testing.B) {
	const count = 1000
	e := newEnv(b, Config{})
	msgs := make([]string, count)
	for i := range msgs {
		msgs[i] = testMessage(i) + strings.Repeat("body line of the message\r\n", 100)
	}
	e.deliver(annaUser, msgs...)
	b.Run("login_stat_uidl", func(b *testing.B) {
		for b.Loop() {
			c := e.login(annaUser, annaPass)
			c.do("STAT", fmt.Sprintf("+OK %d ", count))
			c.multi("UIDL")
			c.do("QUIT", "+OK")
			c.nc.Close()
		}
	})
	b.Run("retr_all", func(b *testing.B) {
		var size int64
		for _, m := range msgs {
			size += int64(len(m))
		}
		b.SetBytes(size)
		for b.Loop() {
			c := e.login(annaUser, annaPass)
			for i := 1; i <= count; i += 16 {
				var cmds strings.Builder
				for j := i; j < i+16 && j <= count; j++ {
					fmt.Fprintf(&cmds, "RETR %d\r\n", j)
				}
				c.send(cmds.String())
				for j := i; j < i+16 && j <= count; j++ {
					c.expect("+OK")
					c.body()
				}
			}
			c.do("QUIT", "+OK")
			c.nc.Close()
		}
	})
}
