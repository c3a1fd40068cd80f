package main

import "flag"

// parseConfigFlag parses the -config flag of the subcommand name (serve,
// check) and returns the flag set, for its remaining arguments, and the
// configuration path; ok is false when args do not parse (the flag
// package has said why on stderr), which is exit status 2.
func parseConfigFlag(env *cmdEnv, name string, args []string) (fs *flag.FlagSet, path string, ok bool) {
	fs = flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	p := fs.String("config", defaultConfigPath, "configuration file (TOML)")
	if err := fs.Parse(args); err != nil {
		return fs, "", false
	}
	return fs, *p, true
}
