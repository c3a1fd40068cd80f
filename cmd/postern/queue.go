package main

import (
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"postern/smtpd/queue"
)

const queueUsage = `usage: postern queue list  [-data DIR | -config FILE]
       postern queue flush [ID] [-data DIR | -config FILE]
       postern queue drop  ID   [-data DIR | -config FILE]

list   one line per recipient: id, age, sender, recipient, state, last error
flush  retry every deferred message now (or only message ID)
drop   give up message ID: its sender gets a bounce "deleted by administrator"

flush and drop are requests the running server applies within a second
(or at its next start).`

// runQueue is "postern queue list|flush|drop".
func runQueue(env *cmdEnv, args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(env.stderr, queueUsage)
		return 2
	}
	verb := args[0]
	data, pos, code := dataDirArgs(env, "queue "+verb, args[1:])
	if code != 0 {
		return code
	}
	switch {
	case verb == "list" && len(pos) == 0:
		return queueList(env, data)
	case verb == "flush" && len(pos) <= 1:
		id := ""
		if len(pos) == 1 {
			id = pos[0]
		}
		if err := queue.RequestFlush(data, id); err != nil {
			fmt.Fprintln(env.stderr, "postern queue flush:", err)
			return 1
		}
		fmt.Fprintln(env.stdout, "flush requested")
		return 0
	case verb == "drop" && len(pos) == 1:
		if err := queue.RequestDrop(data, pos[0]); err != nil {
			fmt.Fprintln(env.stderr, "postern queue drop:", err)
			return 1
		}
		fmt.Fprintf(env.stdout, "drop of %s requested; the sender gets a bounce\n", pos[0])
		return 0
	}
	fmt.Fprintln(env.stderr, queueUsage)
	return 2
}

func queueList(env *cmdEnv, data string) int {
	envs, err := queue.List(data)
	code := 0
	if err != nil {
		// Unreadable envelopes are reported; the readable ones still listed.
		fmt.Fprintln(env.stderr, "postern queue list:", err)
		code = 1
	}
	if len(envs) == 0 {
		if code == 0 {
			fmt.Fprintln(env.stdout, "queue is empty")
		}
		return code
	}
	w := tabwriter.NewWriter(env.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tAGE\tFROM\tRECIPIENT\tSTATE\tLAST ERROR")
	now := time.Now()
	for _, e := range envs {
		from := e.From
		if from == "" {
			from = "<>"
		}
		for _, r := range e.Rcpts {
			state := string(r.State)
			if r.State == queue.StateDeferred {
				state += fmt.Sprintf(" (%d tries, next in %s)", r.Attempts, roundAge(r.Next.Sub(now)))
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", e.ID, roundAge(now.Sub(e.Created)), from, r.Addr, state, oneLineErr(r.LastError))
		}
	}
	w.Flush()
	fmt.Fprintf(env.stdout, "%d message(s)\n", len(envs))
	return code
}

func roundAge(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Minute:
		return d.Round(time.Second).String()
	case d < 48*time.Hour:
		return d.Round(time.Minute).String()
	}
	return fmt.Sprintf("%dd%dh", d/(24*time.Hour), d%(24*time.Hour)/time.Hour)
}

func oneLineErr(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}

// dataDirArgs parses -data and -config wherever they appear among args
// and returns the data directory (-data, else the configuration's
// data_dir, else the default) and the positional arguments.
func dataDirArgs(env *cmdEnv, name string, args []string, extra ...func(*flag.FlagSet)) (string, []string, int) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	data := fs.String("data", "", "data directory (default: data_dir of the configuration)")
	cfgPath := fs.String("config", defaultConfigPath, "configuration file (TOML)")
	for _, e := range extra {
		e(fs)
	}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return "", nil, 2
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if *data != "" {
		return *data, pos, 0
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		fmt.Fprintf(env.stderr, "postern %s: no -data given and %s unusable, using %s: %v\n", name, *cfgPath, defaultDataDir, err)
		return defaultDataDir, pos, 0
	}
	return cfg.DataDir, pos, 0
}
