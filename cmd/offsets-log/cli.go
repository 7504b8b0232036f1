package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/maelstrom-offsets/offsets/consumeroffsets"
	"github.com/maelstrom-offsets/offsets/log"
)

// Exit codes, the same for every command.
const (
	exitOK      = 0 // success; for verify, a clean log
	exitDamaged = 1 // the log is damaged
	exitUsage   = 2 // usage error, or the log could not be read or changed
)

// env is where a run writes; tests give it buffers.
type env struct {
	stdout, stderr io.Writer
	terminal       bool // stderr is a terminal: progress bars are drawn
}

// command is one subcommand: its help and a setup that defines its flags
// and returns what runs on DIR once they are parsed.
type command struct {
	name    string
	summary string
	help    string
	setup   func(fs *flag.FlagSet) func(e *env, dir string) int
}

// commands lists the subcommands, the reading ones first; each is defined
// in its cmd_*.go file.
var commands = []*command{replayCmd, dumpCmd, verifyCmd, statsCmd, compactCmd, repairCmd}

const readCommands = 4

func findCommand(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

const exitHelp = `Exit status:
  0  success; for verify, the log is clean
  1  the log is damaged: verify found damage; replay, dump and stats met damage
     the node would refuse to start on; repair refused damage that is not a
     torn tail
  2  usage error, or the log could not be read or changed: a missing
     directory, a directory that is not an offsets log, a node holding it
     (compact, repair), a format version this program does not know, an I/O
     error
`

func topHelp() string {
	var b strings.Builder
	b.WriteString(`offsets-log replays, inspects, verifies and compacts an offsets log.

Usage:
  offsets-log COMMAND [flags] DIR
  offsets-log help [COMMAND]

DIR is a node's directory, DATA_DIR/<node_id>/, the one holding LOCK, wal/
and checkpoint.N/: for a node started with --data-dir /var/lib/offsets whose
node_id is n1, DIR is /var/lib/offsets/n1. Flags may stand before or after DIR.

Commands that only read (they never write to DIR and work while a node runs):
`)
	for _, c := range commands[:readCommands] {
		fmt.Fprintf(&b, "  %-8s %s\n", c.name, c.summary)
	}
	b.WriteString("\nCommands that change the log (they refuse while a node holds DIR):\n")
	for _, c := range commands[readCommands:] {
		fmt.Fprintf(&b, "  %-8s %s\n", c.name, c.summary)
	}
	b.WriteString(`
The reading commands treat damage at the very end of the newest segment that
the node would cut at its next start (a torn tail: an entry a crash cut short,
or one a running node is still writing) as the end of the log, and say so on
stderr. Any other damage stops replay and stats; verify lists all of it.

` + exitHelp + `
Run 'offsets-log COMMAND --help' for a command's flags.
`)
	return b.String()
}

func commandHelp(c *command, fs *flag.FlagSet) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Usage: offsets-log %s [flags] DIR\n\n%s\n", c.name, strings.TrimSpace(c.help))
	first := true
	fs.VisitAll(func(f *flag.Flag) {
		if first {
			b.WriteString("\nFlags (before or after DIR):\n")
			first = false
		}
		name, usage := flag.UnquoteUsage(f)
		fmt.Fprintf(&b, "  --%s", f.Name)
		if name != "" {
			fmt.Fprintf(&b, " %s", name)
		}
		fmt.Fprintf(&b, "\n        %s", usage)
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
			fmt.Fprintf(&b, " (default %s)", f.DefValue)
		}
		b.WriteString("\n")
	})
	fmt.Fprintf(&b, "\n%s", exitHelp)
	return b.String()
}

// run runs the command line args and returns the exit code.
func run(args []string, e *env) int {
	if len(args) == 0 {
		fmt.Fprint(e.stderr, topHelp())
		return exitUsage
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 {
			if c := findCommand(args[1]); c != nil {
				fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
				c.setup(fs)
				fmt.Fprint(e.stdout, commandHelp(c, fs))
				return exitOK
			}
			fmt.Fprintf(e.stderr, "offsets-log: no command %q; run 'offsets-log help'\n", args[1])
			return exitUsage
		}
		fmt.Fprint(e.stdout, topHelp())
		return exitOK
	}
	c := findCommand(args[0])
	if c == nil {
		fmt.Fprintf(e.stderr, "offsets-log: no command %q; the commands are replay, dump, verify, stats, compact and repair; run 'offsets-log help'\n", args[0])
		return exitUsage
	}
	fs := flag.NewFlagSet("offsets-log "+c.name, flag.ContinueOnError)
	fs.Usage = func() {}
	runCmd := c.setup(fs)
	fs.SetOutput(e.stderr)
	pos, err := parseInterspersed(fs, args[1:])
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(e.stdout, commandHelp(c, fs))
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "usage: offsets-log %s [flags] DIR; run 'offsets-log %s --help'\n", c.name, c.name)
		return exitUsage
	}
	if len(pos) != 1 {
		fmt.Fprintf(e.stderr, "offsets-log %s: want one DIR, got %d arguments %q; run 'offsets-log %s --help'\n", c.name, len(pos), pos, c.name)
		return exitUsage
	}
	return runCmd(e, pos[0])
}

// parseInterspersed parses flags that may stand before, between and after
// the positional arguments, which it returns. "--" ends the flags.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// checkDir checks that dir holds a log before any command touches it, and
// says what to do when it does not.
func (e *env) checkDir(cmd, dir string) bool {
	err := log.CheckDir(dir)
	if err == nil {
		return true
	}
	e.fail(cmd, dir, err)
	return false
}

// fail prints err with what to do about it and returns the exit code.
func (e *env) fail(cmd, dir string, err error) int {
	msg, code := explain(dir, err)
	fmt.Fprintf(e.stderr, "offsets-log %s: %s\n", cmd, msg)
	return code
}

func explain(dir string, err error) (string, int) {
	var ce *log.CorruptionError
	switch {
	case errors.Is(err, os.ErrNotExist) && !errors.As(err, &ce):
		if _, serr := os.Stat(dir); serr != nil {
			return fmt.Sprintf("%s does not exist. Give a node's directory, DATA_DIR/<node_id> (e.g. /var/lib/offsets/n1).", dir), exitUsage
		}
		return fmt.Sprintf("%v.", err), exitUsage
	case errors.Is(err, log.ErrNotLog):
		msg := fmt.Sprintf("%s is not an offsets log: it has no wal/ directory.", dir)
		switch subs := logsUnder(dir); {
		case len(subs) == 1:
			msg += fmt.Sprintf(" It holds the log of node %s: give %s.", subs[0], filepath.Join(dir, subs[0]))
		case len(subs) > 1:
			msg += fmt.Sprintf(" It holds the logs of nodes %s: give one of them, e.g. %s.", strings.Join(subs, ", "), filepath.Join(dir, subs[0]))
		default:
			msg += " Give a node's directory, DATA_DIR/<node_id> (e.g. /var/lib/offsets/n1), the one holding wal/."
		}
		return msg, exitUsage
	case errors.Is(err, log.ErrVersion):
		what, cause := "an entry of the log", err
		if errors.As(err, &ce) {
			what, cause = fmt.Sprintf("entry %d in %s at byte %d", ce.Index, rel(dir, ce.Path), ce.Offset), ce.Err
		}
		return fmt.Sprintf("%s is in a format this program does not know (%v).\nA newer version of offsets wrote it; this offsets-log reads entry format version %d. Use the offsets-log built with the node that wrote the log.",
			what, cause, log.Version), exitUsage
	case errors.Is(err, log.ErrLocked):
		return fmt.Sprintf("a running node holds %s (its LOCK file). This command changes the log: stop the node first (EOF on stdin, SIGTERM or SIGINT), then run it again.", dir), exitUsage
	case errors.Is(err, log.ErrChanged):
		return fmt.Sprintf("%v. The running node compacted the log while it was read: run the command again.", err), exitUsage
	case errors.Is(err, log.ErrCompacted):
		return fmt.Sprintf("%v: that history is gone; a checkpoint keeps only the live records.", err), exitUsage
	case errors.As(err, &ce), errors.Is(err, log.ErrCorrupt), errors.Is(err, consumeroffsets.ErrRecord):
		return fmt.Sprintf("the log is damaged: %s.\nThe node refuses to start on it. Run 'offsets-log verify %s' to list every damaged place.", relErr(dir, err), dir), exitDamaged
	}
	return err.Error(), exitUsage
}

// logsUnder names the subdirectories of dir that hold a log: a data
// directory given where a node's directory belongs.
func logsUnder(dir string) []string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var subs []string
	for _, e := range ents {
		if e.IsDir() && log.CheckDir(filepath.Join(dir, e.Name())) == nil {
			subs = append(subs, e.Name())
		}
	}
	return subs
}

// rel names a file of the log relative to its directory, as the output
// shows files.
func rel(dir, path string) string {
	if r, err := filepath.Rel(dir, path); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return path
}

// relErr is err's text with the log directory's prefix taken off paths.
func relErr(dir string, err error) string {
	return strings.ReplaceAll(err.Error(), filepath.Clean(dir)+string(filepath.Separator), "")
}
