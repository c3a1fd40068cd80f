package main

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// parseLevel turns a log.level value into a slog level.
func parseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, nil
	case "info", "":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf(`must be "debug", "info", "warn" or "error", got %q`, s)
}

// newLogger builds the process logger writing to w in the configured
// format. The returned LevelVar lets SIGHUP change the level in place.
// Every connection's lines carry session, proto, remote, user and tls
// attributes, added by the front ends.
func newLogger(c LogConfig, w io.Writer) (*slog.Logger, *slog.LevelVar) {
	level := new(slog.LevelVar)
	if l, err := parseLevel(c.Level); err == nil {
		level.Set(l)
	}
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	if c.Format == "json" {
		h = slog.NewJSONHandler(w, opts)
	} else {
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(h), level
}
