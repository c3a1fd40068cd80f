package pop3d

import (
	"context"
	"strings"
)

// stateSet is a set of states in which a verb is allowed.
type stateSet uint8

const (
	inAuthorization stateSet = 1 << stateAuthorization
	inTransaction   stateSet = 1 << stateTransaction
)

func (ss stateSet) has(s state) bool { return ss&(1<<s) != 0 }

// verb describes one POP3 command: where it is allowed, how many
// arguments it takes, and the method that runs it.
type verb struct {
	states  stateSet
	minArgs int
	maxArgs int
	usage   string
	run     func(c *conn, args []string) error
}

// verbs is the dispatch table: every command the server knows, with the
// states it is valid in (RFC 1939 §§4-7, RFC 2449 CAPA, RFC 2595 STLS,
// RFC 5034 AUTH). It is never modified.
var verbs = map[string]verb{
	"CAPA": {inAuthorization | inTransaction, 0, 0, "CAPA", (*conn).cmdCapa},
	"STLS": {inAuthorization, 0, 0, "STLS", (*conn).cmdStls},
	"USER": {inAuthorization, 1, 1, "USER name", (*conn).cmdUser},
	"PASS": {inAuthorization, 1, 1, "PASS password", (*conn).cmdPass},
	"AUTH": {inAuthorization, 0, 2, "AUTH mechanism [initial-response]", (*conn).cmdAuth},
	"QUIT": {inAuthorization | inTransaction, 0, 0, "QUIT", (*conn).cmdQuit},
	"NOOP": {inTransaction, 0, 0, "NOOP", (*conn).cmdNoop},
	"STAT": {inTransaction, 0, 0, "STAT", (*conn).cmdStat},
	"LIST": {inTransaction, 0, 1, "LIST [msg]", (*conn).cmdList},
	"UIDL": {inTransaction, 0, 1, "UIDL [msg]", (*conn).cmdUidl},
	"RETR": {inTransaction, 1, 1, "RETR msg", (*conn).cmdRetr},
	"TOP":  {inTransaction, 2, 2, "TOP msg lines", (*conn).cmdTop},
	"DELE": {inTransaction, 1, 1, "DELE msg", (*conn).cmdDele},
	"RSET": {inTransaction, 0, 0, "RSET", (*conn).cmdRset},
}

// crossProtocol lists verbs of other protocols that mean someone is
// talking HTTP or SMTP to us (cross-protocol attacks): the connection is
// closed at once.
var crossProtocol = map[string]bool{
	"GET": true, "POST": true, "PUT": true, "HEAD": true, "CONNECT": true,
	"HELO": true, "EHLO": true,
}

// command is one parsed command line.
type command struct {
	verb string   // upper case
	args []string // PASS has its whole rest of line as one argument
}

// maxVerbLength is the longest keyword accepted; RFC 1939 §3 keywords are
// three or four characters.
const maxVerbLength = 4

// parseCommand splits a command line (without CRLF) into verb and
// arguments. Arguments are separated by spaces; PASS takes the rest of
// the line as its one argument, since passwords may contain spaces
// (RFC 1939 §7). Control characters anywhere are rejected.
func parseCommand(line []byte) (command, error) {
	for _, b := range line {
		if b < 0x20 || b == 0x7f {
			return command{}, perr("", "Invalid characters in command")
		}
	}
	s := string(line)
	name, rest, _ := strings.Cut(s, " ")
	if name == "" {
		return command{}, perr("", "Empty command")
	}
	if len(name) > maxVerbLength || !isAlpha(name) {
		return command{}, perr("", "Unknown command")
	}
	cmd := command{verb: strings.ToUpper(name)}
	if cmd.verb == "PASS" {
		if rest != "" {
			cmd.args = []string{rest}
		}
		return cmd, nil
	}
	cmd.args = strings.Fields(rest)
	return cmd, nil
}

func isAlpha(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i] | 0x20; c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// dispatch parses and runs one command line, writing its reply.
func (c *conn) dispatch(line []byte) {
	cmd, err := parseCommand(line)
	if err != nil {
		c.fail(err)
		return
	}
	c.trace(cmd)
	c.act.Begin(cmd.activity())
	v, ok := verbs[cmd.verb]
	switch {
	case !ok && crossProtocol[cmd.verb]:
		c.log.Info("closing: not a POP3 client", "verb", cmd.verb)
		c.quit = true
		return
	case !ok:
		c.fail(perr("", "Unknown command"))
		return
	case !v.states.has(c.state):
		c.fail(perr("", "%s not allowed in the %s state", cmd.verb, c.state))
		return
	case len(cmd.args) < v.minArgs || len(cmd.args) > v.maxArgs:
		c.fail(perr("", "Syntax: %s", v.usage))
		return
	}
	if err := v.run(c, cmd.args); err != nil {
		c.fail(err)
	}
}

// activity is the command as Server.BusySessions shows it: the verb and
// its arguments, credentials hidden.
func (cmd command) activity() string {
	switch {
	case len(cmd.args) == 0:
		return cmd.verb
	case cmd.verb == "PASS" || cmd.verb == "AUTH":
		return cmd.verb + " <hidden>"
	}
	return cmd.verb + " " + strings.Join(cmd.args, " ")
}

// levelTrace is the slog level of protocol transcripts, below Debug.
const levelTrace = -8

// trace logs a command at the trace level, hiding credentials.
func (c *conn) trace(cmd command) {
	args := strings.Join(cmd.args, " ")
	if cmd.verb == "PASS" || cmd.verb == "AUTH" {
		args = "<hidden>"
	}
	c.log.Log(context.Background(), levelTrace, "C: "+cmd.verb, "args", args)
}
