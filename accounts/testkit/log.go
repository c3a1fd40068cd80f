package testkit

import (
	"bytes"
	"io"
	"log/slog"
	"strings"
	"sync"
)

// SyncBuffer is a goroutine-safe log sink: a bytes.Buffer behind a mutex.
// The zero value is ready to use.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Contains reports whether what was written so far contains sub.
func (s *SyncBuffer) Contains(sub string) bool { return strings.Contains(s.String(), sub) }

// DebugLogger returns a text logger at debug level writing to w.
func DebugLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
