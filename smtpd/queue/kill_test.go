package queue

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"postern/accounts/testkit"
)

// TestKillChild is the delivering process of TestSIGKILLMidDelivery: it
// runs a queue over the data directory named in its environment until it
// is killed. Run alone it does nothing.
func TestKillChild(t *testing.T) {
	data := os.Getenv("POSTERN_QUEUE_CHILD_DATA")
	if data == "" {
		t.Skip("helper process for TestSIGKILLMidDelivery")
	}
	cfg := DefaultConfig()
	cfg.Hostname = "out.sender.test"
	cfg.Resolver = os.Getenv("POSTERN_QUEUE_CHILD_DNS")
	cfg.MXPort = atoiOr(os.Getenv("POSTERN_QUEUE_CHILD_PORT"), 25)
	q, err := Open(data, cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	q.Run(context.Background())
}

func atoiOr(s string, def int) int {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return def
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// The delivering process is killed with SIGKILL while the receiver holds
// the message data unanswered. After a restart the message is delivered,
// exactly once (the kill came before the remote's 250).
func TestSIGKILLMidDelivery(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	d := newTestDNS(t)
	inData := make(chan struct{}, 1)
	release := make(chan struct{})
	rcv := newReceiver(t, "127.0.0.1:0", false, func(r *receiver) {
		r.dataHook = func(n int) error {
			if n == 1 {
				inData <- struct{}{}
				<-release
				return errors.New("connection lost")
			}
			return nil
		}
	})
	d.add(t, "a.test. MX 10 mx.a.test.", "mx.a.test. A 127.0.0.1")
	q0, err := Open(data, DefaultConfig(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	enqueue(t, q0, "anna@sender.test", []string{"bob@a.test"}, testMessage("anna@sender.test", "bob@a.test", "killed"))

	child := exec.Command(os.Args[0], "-test.run=^TestKillChild$", "-test.count=1")
	child.Env = append(os.Environ(), "POSTERN_QUEUE_CHILD_DATA="+data, "POSTERN_QUEUE_CHILD_DNS="+d.addr, "POSTERN_QUEUE_CHILD_PORT="+portOf(rcv.addr))
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-inData:
	case <-time.After(20 * time.Second):
		child.Process.Kill()
		t.Fatal("child never reached DATA")
	}
	child.Process.Kill() // SIGKILL
	child.Wait()
	close(release)

	l, err := List(data)
	if err != nil || len(l) != 1 || l[0].Rcpts[0].State.final() {
		t.Fatalf("after the kill the message must still be queued: %v %+v", err, l)
	}
	testQueue(t, data, d, portOf(rcv.addr), nil, nil)
	testkit.WaitFor(t, "delivery after restart", func() bool { return len(rcv.messages()) == 1 && queueEmpty(data) })
	if got := rcv.messages(); len(got) != 1 || !strings.Contains(string(got[0].data), "Subject: killed") {
		t.Fatalf("received %d messages", len(got))
	}
}
