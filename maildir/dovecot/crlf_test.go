package dovecot

import (
	"bytes"
	"errors"
	"io"
	"os"
	"testing"
	"testing/iotest"
)

// refCRLF is the obvious definition: every '\n' not preceded by '\r'
// becomes "\r\n".
func refCRLF(in []byte) []byte {
	var out []byte
	for i, b := range in {
		if b == '\n' && (i == 0 || in[i-1] != '\r') {
			out = append(out, '\r')
		}
		out = append(out, b)
	}
	return out
}

// FuzzCRLFReader: the bulk reader gives exactly the reference output,
// whatever the input and however small the reads and the underlying
// reader's chunks, with buffers reused from the pool.
func FuzzCRLFReader(f *testing.F) {
	for _, s := range []string{"", "\n", "a\nb\r\nc\rd\n\n", "\r\n\r\n", "\r", "x\r\r\n\n.\n", "no newline"} {
		f.Add([]byte(s), uint8(3))
	}
	f.Fuzz(func(t *testing.T, in []byte, size uint8) {
		want := refCRLF(in)
		for _, src := range []io.Reader{bytes.NewReader(in), iotest.OneByteReader(bytes.NewReader(in)), iotest.HalfReader(bytes.NewReader(in))} {
			r := NewCRLFReader(src)
			var got []byte
			buf := make([]byte, int(size)%17+1)
			for {
				n, err := r.Read(buf)
				got = append(got, buf[:n]...)
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("CRLFReader(%q) = %q, want %q", in, got, want)
			}
			// Its buffer goes back to the pool for the next reader.
			r.Release()
			r.Release()
			if n, err := r.Read(buf); n != 0 || !errors.Is(err, os.ErrClosed) {
				t.Fatalf("Read after release = %d, %v", n, err)
			}
		}
	})
}

// FuzzCRLFWriter: the writer gives exactly the reference output and
// counts it, whatever the input and however it is cut into writes (a CR
// ending one write and the LF starting the next stay one line end).
func FuzzCRLFWriter(f *testing.F) {
	for _, s := range []string{"", "\n", "a\nb\r\nc\rd\n\n", "\r\n\r\n", "\r", "x\r\r\n\n.\n", "no newline"} {
		f.Add([]byte(s), uint8(3))
	}
	f.Fuzz(func(t *testing.T, in []byte, size uint8) {
		want := refCRLF(in)
		var out bytes.Buffer
		w := NewCRLFWriter(&out)
		step := int(size)%17 + 1
		for i := 0; i < len(in); i += step {
			chunk := in[i:min(i+step, len(in))]
			if n, err := w.Write(chunk); n != len(chunk) || err != nil {
				t.Fatalf("Write(%q) = %d, %v", chunk, n, err)
			}
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		w.Release()
		if !bytes.Equal(out.Bytes(), want) || w.Written() != int64(len(want)) {
			t.Fatalf("CRLFWriter(%q) = %q (counted %d), want %q", in, out.Bytes(), w.Written(), want)
		}
	})
}

// BenchmarkCRLFReader reads a 1 MiB LF-terminated message; the reference
// is a plain copy of the same bytes through Read (no WriterTo shortcut).
func BenchmarkCRLFReader(b *testing.B) {
	msg := bytes.Repeat([]byte("Subject: a line of a message, as Dovecot stores it\n"), 20000)
	b.Run("crlf", func(b *testing.B) {
		b.SetBytes(int64(len(msg)))
		for b.Loop() {
			io.Copy(io.Discard, NewCRLFReader(bytes.NewReader(msg)))
		}
	})
	b.Run("copy", func(b *testing.B) {
		b.SetBytes(int64(len(msg)))
		for b.Loop() {
			io.Copy(io.Discard, struct{ io.Reader }{bytes.NewReader(msg)})
		}
	})
}
