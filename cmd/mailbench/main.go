// Command mailbench is Postern's load tool: it drives any SMTP, IMAP or POP3
// server (Postern, Postfix, Dovecot, ...) over the network and prints what
// it measured as one JSON line per run, so results of different servers
// measured in the same session can be compared side by side.
//
// Usage: mailbench <mode> [flags]. Modes register themselves from their own
// files (smtp.go, imap.go, imapstress.go, pop3.go). Every run is bounded in
// count and time and only ever targets the address it is given.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
)

// mode is one benchmark family, such as "smtp".
type mode struct {
	name    string
	summary string
	// run parses its own flags from args and writes result lines to out.
	run func(args []string, out io.Writer) error
}

var modes = map[string]mode{}

func register(m mode) {
	if _, dup := modes[m.name]; dup {
		panic("mailbench: mode registered twice: " + m.name)
	}
	modes[m.name] = m
}

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	m, ok := modes[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "mailbench: unknown mode %q\n", os.Args[1])
		usage()
		os.Exit(2)
	}
	if err := m.run(os.Args[2:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "mailbench:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: mailbench <mode> [flags]")
	names := make([]string, 0, len(modes))
	for n := range modes {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "  %-6s %s\n", n, modes[n].summary)
	}
}

// newFlagSet returns a flag set for a mode that reports errors instead of
// exiting.
func newFlagSet(name string) *flag.FlagSet {
	return flag.NewFlagSet("mailbench "+name, flag.ContinueOnError)
}

// writeResult prints one result as a JSON line.
func writeResult(out io.Writer, r any) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode result: %w", err)
	}
	_, err = fmt.Fprintf(out, "%s\n", b)
	return err
}

// runLine starts each run's JSON line of the smtp, queue and pop3 modes.
type runLine struct {
	Mode string `json:"mode"`
	Addr string `json:"addr"`
	Run  int    `json:"run"`
}

// mediansLine starts a JSON line of medians over the runs: the closing
// line of those modes, and the imap mode's only line.
type mediansLine struct {
	Mode string `json:"mode"`
	Addr string `json:"addr"`
	Runs int    `json:"runs"`
}

// eachRun does a mode's runs, numbered from 1, and writes each run's
// result line; one returns a run's result after noting what the mode's
// closing line of medians needs from it.
func eachRun[R any](out io.Writer, runs int, one func(run int) (R, error)) error {
	for run := 1; run <= runs; run++ {
		r, err := one(run)
		if err != nil {
			return fmt.Errorf("run %d: %w", run, err)
		}
		if err := writeResult(out, r); err != nil {
			return err
		}
	}
	return nil
}
