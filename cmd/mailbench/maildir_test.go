package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMaildirMode: the maildir mode writes N parseable messages into cur/
// with sizes in range, S= and W= matching the content, the Date as
// modification time, every third one multipart, only the newest unseen;
// and refuses to write
// into a cur/ that already holds mail.
func TestMaildirMode(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "anna")
	var out bytes.Buffer
	if err := runMaildir([]string{"-dir", dir, "-n", "30", "-workers", "3"}, &out); err != nil {
		t.Fatal(err)
	}
	var res maildirResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil || res.Messages != 30 {
		t.Fatalf("result %q: %v", out.String(), err)
	}
	ents, err := os.ReadDir(filepath.Join(dir, "cur"))
	if err != nil || len(ents) != 30 {
		t.Fatalf("cur/: %d entries, %v", len(ents), err)
	}
	var total int64
	multipart := 0
	for _, e := range ents {
		p := filepath.Join(dir, "cur", e.Name())
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		total += int64(len(b))
		if len(b) < genMinSize || len(b) > genMaxSize+1024 {
			t.Errorf("%s: %d bytes", e.Name(), len(b))
		}
		want := fmt.Sprintf(",S=%d,W=%d:2,", len(b), len(b)+bytes.Count(b, []byte{'\n'}))
		if !strings.Contains(e.Name(), want) {
			t.Errorf("%s: name lacks %s", e.Name(), want)
		}
		m, err := mail.ReadMessage(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		for _, h := range []string{"From", "To", "Subject", "Date", "Message-Id", "Received"} {
			if m.Header.Get(h) == "" {
				t.Errorf("%s: no %s header", e.Name(), h)
			}
		}
		date, err := m.Header.Date()
		if err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		info, _ := os.Stat(p)
		if !info.ModTime().Equal(date) {
			t.Errorf("%s: mtime %v, Date %v", e.Name(), info.ModTime(), date)
		}
		if strings.HasPrefix(m.Header.Get("Content-Type"), "multipart/") {
			multipart++
		}
	}
	// Only the newest 3% may be unseen.
	big := filepath.Join(t.TempDir(), "big")
	if err := runMaildir([]string{"-dir", big, "-n", "400"}, &out); err != nil {
		t.Fatal(err)
	}
	bigEnts, _ := os.ReadDir(filepath.Join(big, "cur"))
	unseen := 0
	for _, e := range bigEnts {
		var sec, i int
		fmt.Sscanf(e.Name(), "%d.M%dP1.", &sec, &i)
		if strings.HasSuffix(e.Name(), ":2,") {
			unseen++
			if i < 400-12 {
				t.Errorf("%s: an old message unseen", e.Name())
			}
		}
	}
	if unseen == 0 || unseen > 12 {
		t.Errorf("%d of 400 unseen, want 1..12", unseen)
	}
	if total != res.Bytes || multipart != 10 {
		t.Errorf("%d bytes (reported %d), %d multipart, want 10", total, res.Bytes, multipart)
	}
	if err := runMaildir([]string{"-dir", dir, "-n", "1"}, &out); err == nil {
		t.Error("second fill of the same cur/ accepted")
	}
}
