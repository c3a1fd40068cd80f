// Command postern is the Postern mail server: one binary that serves SMTP,
// submission, IMAP and POP3 over one Maildir store, and manages its users,
// aliases, domains, queue and DKIM keys.
//
// Usage: postern <command> [flags] [args]. Run "postern help" for the list.
package main

import (
	"fmt"
	"io"
	"os"
	"sort"
)

// command is one subcommand of the binary. Each lives in its own file and
// adds itself to the table with register from an init function.
type command struct {
	name    string
	summary string
	// run executes the command with the arguments after its name and
	// returns the process exit code.
	run func(env *cmdEnv, args []string) int
}

// cmdEnv is what a command may touch of the outside world, so tests can run
// commands in-process.
type cmdEnv struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

var commands = map[string]command{}

func register(c command) {
	if _, dup := commands[c.name]; dup {
		panic("postern: command registered twice: " + c.name)
	}
	commands[c.name] = c
}

func main() {
	env := &cmdEnv{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr}
	os.Exit(run(env, os.Args[1:]))
}

// run dispatches args to a subcommand and returns the exit code.
func run(env *cmdEnv, args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(env.stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(env.stderr, "postern: unknown command %q\n\n", args[0])
		usage(env.stderr)
		return 2
	}
	return c.run(env, args[1:])
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: postern <command> [flags] [args]")
	fmt.Fprintln(w)
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, commands[n].summary)
	}
}
