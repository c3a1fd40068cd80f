package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/term"

	"postern/accounts"
)

// maxPasswordLine bounds what --password-stdin reads.
const maxPasswordLine = 1024

// openAccounts parses the common flags and opens <data>/accounts.
func openAccounts(env *cmdEnv, name string, args []string, extra ...func(*flag.FlagSet)) (*accounts.Directory, []string, int) {
	data, pos, code := dataDirArgs(env, name, args, extra...)
	if code != 0 {
		return nil, nil, code
	}
	d, err := accounts.Open(filepath.Join(data, "accounts"), accounts.Options{ReloadInterval: -1})
	if err != nil {
		fmt.Fprintf(env.stderr, "postern %s: %v\n", name, err)
		return nil, nil, 1
	}
	return d, pos, 0
}

// readPassword reads a new password: the first line of stdin with
// --password-stdin, else from the terminal without echo, asked twice.
// Passwords are never taken from the command line.
func readPassword(env *cmdEnv, fromStdin bool) (string, error) {
	if fromStdin {
		r := bufio.NewReaderSize(env.stdin, maxPasswordLine)
		line, err := r.ReadString('\n')
		if err != nil && line == "" {
			return "", fmt.Errorf("reading password from stdin: %w", err)
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
	f, ok := env.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return "", fmt.Errorf("stdin is not a terminal: pass the password on stdin with --password-stdin (never as an argument)")
	}
	ask := func(prompt string) (string, error) {
		fmt.Fprint(env.stderr, prompt)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(env.stderr)
		if err != nil {
			return "", fmt.Errorf("reading password from the terminal: %w", err)
		}
		return string(b), nil
	}
	pw, err := ask("New password: ")
	if err != nil {
		return "", err
	}
	again, err := ask("Repeat password: ")
	if err != nil {
		return "", err
	}
	if pw != again {
		return "", fmt.Errorf("the two passwords differ")
	}
	return pw, nil
}

func fail(env *cmdEnv, name string, err error) int {
	fmt.Fprintf(env.stderr, "postern %s: %v\n", name, err)
	return 1
}

// runAccounts is the part the user, alias and domain subcommands share:
// it takes the verb, parses the common flags (and extra), opens the
// accounts directory and runs do, which returns the exit status; an error
// from do is reported under the subcommand's name with status 1.
func runAccounts(env *cmdEnv, cmd, usage string, args []string, do func(d *accounts.Directory, verb, name string, pos []string) (int, error), extra ...func(*flag.FlagSet)) int {
	if len(args) == 0 {
		fmt.Fprintln(env.stderr, usage)
		return 2
	}
	verb, name := args[0], cmd+" "+args[0]
	d, pos, code := openAccounts(env, name, args[1:], extra...)
	if code != 0 {
		return code
	}
	defer d.Close()
	code, err := do(d, verb, name, pos)
	if err != nil {
		return fail(env, name, err)
	}
	return code
}

func runUser(env *cmdEnv, args []string) int {
	var pwStdin bool
	return runAccounts(env, "user", "usage: postern user add|del|passwd|list [-data DIR] [--password-stdin] [address]", args, func(d *accounts.Directory, verb, name string, pos []string) (int, error) {
		if verb == "list" {
			for _, u := range d.Users() {
				fmt.Fprintln(env.stdout, u)
			}
			return 0, nil
		}
		if len(pos) != 1 {
			fmt.Fprintf(env.stderr, "postern %s: need exactly one address\n", name)
			return 2, nil
		}
		switch verb {
		case "add", "passwd":
			pw, err := readPassword(env, pwStdin)
			if err != nil {
				return 1, err
			}
			if verb == "add" {
				return 0, d.AddUser(pos[0], pw)
			}
			return 0, d.SetPassword(pos[0], pw)
		case "del":
			return 0, d.DeleteUser(pos[0])
		}
		fmt.Fprintf(env.stderr, "postern user: unknown verb %q\n", verb)
		return 2, nil
	}, func(fs *flag.FlagSet) {
		fs.BoolVar(&pwStdin, "password-stdin", false, "read the password from the first line of stdin")
	})
}

func runAlias(env *cmdEnv, args []string) int {
	return runAccounts(env, "alias", "usage: postern alias add|del|list [-data DIR] alias [target...]", args, func(d *accounts.Directory, verb, _ string, pos []string) (int, error) {
		switch {
		case verb == "list":
			al := d.Aliases()
			for _, a := range sortedKeys(al) {
				fmt.Fprintf(env.stdout, "%s: %s\n", a, strings.Join(al[a], ", "))
			}
			return 0, nil
		case verb == "add" && len(pos) >= 2:
			return 0, d.AddAlias(pos[0], pos[1:])
		case verb == "del" && len(pos) >= 1:
			return 0, d.DeleteAlias(pos[0], pos[1:]...)
		}
		fmt.Fprintf(env.stderr, "postern alias: bad verb or arguments %q\n", args)
		return 2, nil
	})
}

func runDomain(env *cmdEnv, args []string) int {
	return runAccounts(env, "domain", "usage: postern domain add|del|list [-data DIR] [domain]", args, func(d *accounts.Directory, verb, _ string, pos []string) (int, error) {
		switch {
		case verb == "list":
			for _, x := range d.Domains() {
				fmt.Fprintln(env.stdout, x)
			}
			return 0, nil
		case verb == "add" && len(pos) == 1:
			return 0, d.AddDomain(pos[0])
		case verb == "del" && len(pos) == 1:
			return 0, d.DeleteDomain(pos[0])
		}
		fmt.Fprintf(env.stderr, "postern domain: bad verb or arguments %q\n", args)
		return 2, nil
	})
}

func sortedKeys(m map[string][]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	for i := 1; i < len(ks); i++ {
		for j := i; j > 0 && ks[j] < ks[j-1]; j-- {
			ks[j], ks[j-1] = ks[j-1], ks[j]
		}
	}
	return ks
}
