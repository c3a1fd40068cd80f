package imapd

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"postern/accounts/testkit"
)

// idleClientsScript opens n TLS connections that log in, select INBOX and
// IDLE, prints READY, and holds them until stdin closes. Clients run in
// their own process so the server's process holds only server state.
const idleClientsScript = `
import socket, ssl, sys
host, port, ca, user, pw, n = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6])
ctx = ssl.create_default_context(cafile=ca)
conns = []
for i in range(n):
    s = ctx.wrap_socket(socket.create_connection((host, port)), server_hostname="localhost")
    f = s.makefile("rb")
    f.readline()
    for tag, cmd in (("a", "LOGIN %s %s" % (user, pw)), ("b", "SELECT INBOX")):
        s.sendall(("%s %s\r\n" % (tag, cmd)).encode())
        while True:
            l = f.readline()
            if l.startswith(tag.encode() + b" "):
                if b" OK" not in l:
                    print("FAIL", l); sys.exit(1)
                break
    s.sendall(b"c IDLE\r\n")
    f.readline()
    conns.append((s, f))
print("READY", flush=True)
sys.stdin.read()
`

// BenchmarkIdleConnMemory reports the server's memory (Go heap in use
// plus goroutine stacks) per TLS connection sitting in IDLE with INBOX
// selected. The clients live in a Python process.
func BenchmarkIdleConnMemory(b *testing.B) {
	py := testkit.RequireTool(b, "python3")
	const n = 200
	e := newEnv(b, Config{MaxConnectionsPerUserIP: n + 10})
	e.put(testkit.AnnaUser, "INBOX", msg("a", "1"))
	script := filepath.Join(e.dir, "idle.py")
	os.WriteFile(script, []byte(idleClientsScript), 0o600)
	host, port := splitAddr(b, e.tlsAddr)
	for b.Loop() {
		before := inUse()
		cmd := exec.Command(py, script, host, port, e.caFile, testkit.AnnaUser, testkit.AnnaPass, fmt.Sprint(n))
		stdin, _ := cmd.StdinPipe()
		out, _ := cmd.StdoutPipe()
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		buf := make([]byte, 64)
		k, _ := out.Read(buf)
		if !strings.HasPrefix(string(buf[:k]), "READY") {
			b.Fatalf("clients: %q", buf[:k])
		}
		time.Sleep(200 * time.Millisecond)
		after := inUse()
		b.ReportMetric(float64(after-before)/n, "B/conn")
		stdin.Close()
		cmd.Wait()
	}
}

// inUse is the Go heap in use plus goroutine stacks, after a GC.
func inUse() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapInuse + ms.StackInuse)
}
