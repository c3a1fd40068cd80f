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

func runUser(env *cmdEnv, args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(env.stderr, "usage: postern user add|del|passwd|list [-data DIR] [--password-stdin] [address]")
		return 2
	}
	verb, name := args[0], "user "+args[0]
	var pwStdin bool
	d, pos, code := openAccounts(env, name, args[1:], func(fs *flag.FlagSet) {
		fs.BoolVar(&pwStdin, "password-stdin", false, "read the password from the first line of stdin")
	})
	if code != 0 {
		return code
	}
	defer d.Close()
	if verb == "list" {
		for _, u := range d.Users() {
			fmt.Fprintln(env.stdout, u)
		}
		return 0
	}
	if len(pos) != 1 {
		fmt.Fprintf(env.stderr, "postern %s: need exactly one address\n", name)
		return 2
	}
	var err error
	switch verb {
	case "add", "passwd":
		pw, perr := readPassword(env, pwStdin)
		if perr != nil {
			return fail(env, name, perr)
		}
		if verb == "add" {
			err = d.AddUser(pos[0], pw)
		} else {
			err = d.SetPassword(pos[0], pw)
		}
	case "del":
		err = d.DeleteUser(pos[0])
	default:
		fmt.Fprintf(env.stderr, "postern user: unknown verb %q\n", verb)
		return 2
	}
	if err != nil {
		return fail(env, name, err)
	}
	return 0
}

func runAlias(env *cmdEnv, args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(env.stderr, "usage: postern alias add|del|list [-data DIR] alias [target...]")
		return 2
	}
	verb, name := args[0], "alias "+args[0]
	d, pos, code := openAccounts(env, name, args[1:])
	if code != 0 {
		return code
	}
	defer d.Close()
	var err error
	switch {
	case verb == "list":
		al := d.Aliases()
		for _, a := range sortedKeys(al) {
			fmt.Fprintf(env.stdout, "%s: %s\n", a, strings.Join(al[a], ", "))
		}
		return 0
	case verb == "add" && len(pos) >= 2:
		err = d.AddAlias(pos[0], pos[1:])
	case verb == "del" && len(pos) >= 1:
		err = d.DeleteAlias(pos[0], pos[1:]...)
	default:
		fmt.Fprintf(env.stderr, "postern alias: bad verb or arguments %q\n", args)
		return 2
	}
	if err != nil {
		return fail(env, name, err)
	}
	return 0
}

func runDomain(env *cmdEnv, args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(env.stderr, "usage: postern domain add|del|list [-data DIR] [domain]")
		return 2
	}
	verb, name := args[0], "domain "+args[0]
	d, pos, code := openAccounts(env, name, args[1:])
	if code != 0 {
		return code
	}
	defer d.Close()
	var err error
	switch {
	case verb == "list":
		for _, x := range d.Domains() {
			fmt.Fprintln(env.stdout, x)
		}
		return 0
	case verb == "add" && len(pos) == 1:
		err = d.AddDomain(pos[0])
	case verb == "del" && len(pos) == 1:
		err = d.DeleteDomain(pos[0])
	default:
		fmt.Fprintf(env.stderr, "postern domain: bad verb or arguments %q\n", args)
		return 2
	}
	if err != nil {
		return fail(env, name, err)
	}
	return 0
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
