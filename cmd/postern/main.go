package main

import (
	"fmt"
	"io"
	"os"
)

// command is one subcommand of the binary: a row of the commands table,
// its run function in the file named after it.
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

// commands is every subcommand, in the order "postern help" lists them.
var commands = []command{
	{name: "serve", summary: "run the mail server (SMTP, submission, IMAP, POP3)", run: runServe},
	{name: "dev", summary: "run every protocol on 127.0.0.1 with a demo account, no config needed", run: runDev},
	{name: "check", summary: "validate the configuration and accounts files without starting", run: runCheck},
	{name: "user", summary: "add, delete, list users and set passwords", run: runUser},
	{name: "alias", summary: "add, delete and list aliases", run: runAlias},
	{name: "domain", summary: "add, delete and list local domains", run: runDomain},
	{name: "queue", summary: "list the outbound queue, retry (flush) or drop messages", run: runQueue},
	{name: "dkim", summary: "create DKIM signing keys and print their DNS records", run: runDKIM},
	{name: "version", summary: "print the version of this binary", run: runVersion},
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
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(env, args[1:])
		}
	}
	fmt.Fprintf(env.stderr, "postern: unknown command %q\n\n", args[0])
	usage(env.stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: postern <command> [flags] [args]")
	fmt.Fprintln(w)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
}
