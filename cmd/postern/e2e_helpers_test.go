package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"postern/accounts/testkit"
)

// binary holds the postern binary built once for the end-to-end tests.
type binary struct {
	once sync.Once
	path string
	err  error
	out  []byte
}

var builtPostern binary

// posternBinary builds ./cmd/postern (with the race detector when the
// tests use it) into a temporary directory, once per test run.
func posternBinary(t *testing.T) string {
	t.Helper()
	b := &builtPostern
	b.once.Do(func() {
		dir, err := os.MkdirTemp("", "postern-bin-")
		if err != nil {
			b.err = err
			return
		}
		os.Chmod(dir, 0o755)
		b.path = filepath.Join(dir, "postern")
		args := []string{"build", "-o", b.path}
		if raceEnabled {
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, ".")...)
		b.out, b.err = cmd.CombinedOutput()
	})
	if b.err != nil {
		t.Fatalf("go build: %v\n%s", b.err, b.out)
	}
	return b.path
}

// proc is a child process whose output is collected and can be waited
// on line by line.
type proc struct {
	t    *testing.T
	name string
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	cond *sync.Cond
	done chan struct{}
	err  error
}

// startProc starts a program; it is killed at the end of the test if it
// is still running, and its output is logged when the test fails.
func startProc(t *testing.T, name string, env []string, path string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, name: name, done: make(chan struct{})}
	p.cond = sync.NewCond(&p.mu)
	p.cmd = exec.Command(path, args...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	pr, pw := io.Pipe()
	p.cmd.Stdout, p.cmd.Stderr = pw, pw
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			p.mu.Lock()
			p.out.Write(sc.Bytes())
			p.out.WriteByte('\n')
			p.cond.Broadcast()
			p.mu.Unlock()
		}
		io.Copy(io.Discard, pr)
	}()
	go func() {
		p.err = p.cmd.Wait()
		pw.Close()
		close(p.done)
		p.mu.Lock()
		p.cond.Broadcast()
		p.mu.Unlock()
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
		if t.Failed() {
			t.Logf("--- output of %s:\n%s", name, p.output())
		}
	})
	return p
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// waitFor waits until the output matches re (returning the submatches of
// the first match) or the timeout passes or the process exits.
func (p *proc) waitFor(re *regexp.Regexp, timeout time.Duration) []string {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	timer := time.AfterFunc(timeout, func() { p.mu.Lock(); p.cond.Broadcast(); p.mu.Unlock() })
	defer timer.Stop()
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		if m := re.FindStringSubmatch(p.out.String()); m != nil {
			return m
		}
		if p.exited() {
			p.t.Fatalf("%s exited (%v) before printing %q", p.name, p.err, re)
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s did not print %q within %v", p.name, re, timeout)
		}
		p.cond.Wait()
	}
}

// signal sends sig to the process and waits at most timeout for it to
// exit, returning its exit error.
func (p *proc) signalAndWait(sig syscall.Signal, timeout time.Duration) (error, time.Duration) {
	p.t.Helper()
	start := time.Now()
	p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
		return p.err, time.Since(start)
	case <-time.After(timeout):
		p.t.Fatalf("%s still running %v after %v", p.name, timeout, sig)
	}
	return nil, 0
}

const sigTERM = syscall.SIGTERM

// processUID returns the real uid of a running process (Linux /proc).
func processUID(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "Uid:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	t.Fatal("no Uid line")
	return -1
}

// serveOnLoopback writes a config with every mail listener on a free
// loopback port (plus the given top-level keys and further sections) and
// starts "postern serve" with it. The directory is made traversable so
// that the server still reaches it after dropping to "nobody" as root.
func serveOnLoopback(t *testing.T, top, sections string) (*proc, mailListeners) {
	t.Helper()
	bin := posternBinary(t)
	dir := openTempDir(t)
	ls := mailListeners{}
	var listen strings.Builder
	listen.WriteString("[listen]\n")
	for _, n := range []string{"smtp", "submission", "submissions", "imap", "imaps", "pop3", "pop3s"} {
		// The binary binds the listeners itself: ports that were free a
		// moment ago.
		ls[n] = testkit.FreeAddr(t)
		fmt.Fprintf(&listen, "%s = %q\n", n, ls[n])
	}
	// Sender verification on port 25 is off: its DNS questions would
	// leave the machine (its own tests use a local DNS server).
	const noVerify = "verify_senders = false\n"
	if strings.Contains(sections, "[smtp]\n") {
		sections = strings.Replace(sections, "[smtp]\n", "[smtp]\n"+noVerify, 1)
	} else {
		sections += "[smtp]\n" + noVerify
	}
	conf := "user = \"nobody\"\n" + top + listen.String() + sections
	confPath := filepath.Join(dir, "postern.toml")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return startProc(t, "postern serve", nil, bin, "serve", "-config", confPath), ls
}

// mailListeners are the addresses of a test server's mail listeners.
type mailListeners map[string]string

// openTempDir is t.TempDir made traversable (with its parent) for a
// server that drops to "nobody" when the tests run as root.
func openTempDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	os.Chmod(filepath.Dir(dir), 0o755)
	os.Chmod(dir, 0o755)
	return dir
}

// giveToServer hands the tree at dir to "nobody" when the tests run as
// root: the server drops to that user and does not take over the mail
// store (it only ever writes it as that user).
func giveToServer(t *testing.T, dir string) {
	t.Helper()
	if os.Geteuid() != 0 {
		return
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	err = filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
	if err != nil {
		t.Fatal(err)
	}
}
