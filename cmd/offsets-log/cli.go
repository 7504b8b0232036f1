package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/maelstrom-offsets/offsets/consumeroffsets"
	"github.com/maelstrom-offsets/offsets/log"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Exit codes, the same for every command.
const (
	exitOK      = 0 // success; for verify, a clean log
	exitDamaged = 1 // the log is damaged
	exitUsage   = 2 // usage error, or the log could not be read or changed
)

// env is where a run writes; tests give it buffers.
type env struct {
	stdin          io.Reader // nil: os.Stdin
	stdout, stderr io.Writer
	terminal       bool // stderr is a terminal: progress bars are drawn
}

const rootHelp = `offsets-log replays, inspects, verifies, exports and compacts an offsets log,
and plans offset resets.

DIR is a node's directory, DATA_DIR/<node_id>/, the one holding LOCK, wal/
and checkpoint.N.sealed/ (checkpoint.N/ from before seals): for a node
started with --data-dir /var/lib/offsets whose node_id is n1, DIR is
/var/lib/offsets/n1; for a cluster member, /var/lib/offsets/n1/log. Flags
may stand before or after DIR.

The reading commands treat damage at the very end of the newest segment that
the node would cut at its next start (a torn tail: an entry a crash cut short,
or one a running node is still writing) as the end of the log, and say so on
stderr. Any other damage stops replay and stats; verify lists all of it.

` + exitHelp

// dirHelp and exitHelp end every command's help.
const dirHelp = `DIR is a node's directory, DATA_DIR/<node_id>/, the one holding LOCK, wal/
and checkpoint.N.sealed/ (e.g. /var/lib/offsets/n1). Flags may stand before or
after DIR.`

const exitHelp = `Exit status:
  0  success; for verify, the log is clean
  1  the log is damaged: verify found damage; replay, dump, stats, export and
     reset-plan met damage the node would refuse to start on; compact and
     repair refused damage that is not a torn tail
  2  usage error, or the log could not be read or changed: a missing
     directory, a directory that is not an offsets log, a node holding it
     (compact, repair), a format version this program does not know, an I/O
     error`

// exitHelps are the exit statuses that apply to each command, as its help
// lists them.
var exitHelps = map[string]string{
	"replay":     readExit(";\n     an --at-index or --at-time before the history the log keeps, or an\n     --at-index past its end"),
	"dump":       readExit(""),
	"stats":      readExit(""),
	"export":     readExit(""),
	"reset-plan": readExit(";\n     a --to-time before the history the log keeps"),
	"verify": `Exit status:
  0  the log is clean: no damage
  1  verify found damage (a torn tail included)
  2  usage error, or the log could not be read: a missing directory, a
     directory that is not an offsets log, a format version this program
     does not know, an I/O error`,
	"compact": changeExit("compact", "compacted it, or there was nothing to compact"),
	"repair":  changeExit("repair", "cut a torn tail, or there was none"),
	"import": `Exit status:
  0  success: the input's requests, after an init, are on stdout
  2  usage error, a line that is not a commit_offsets request (nothing is
     printed), or FILE could not be read`,
}

func readExit(more string) string {
	return fmt.Sprintf(`Exit status:
  0  success
  1  the log is damaged where the node would refuse to start on it (damage
     other than a torn tail); 'offsets-log verify DIR' lists it
  2  usage error, or the log could not be read: a missing directory, a
     directory that is not an offsets log, a format version this program
     does not know, an I/O error%s`, more)
}

func changeExit(cmd, ok string) string {
	return fmt.Sprintf(`Exit status:
  0  success: %s
  1  %s refused: the log is damaged other than in a torn tail
  2  usage error, a node holding DIR, or the log could not be read or
     changed: a missing directory, a directory that is not an offsets log,
     a format version this program does not know, an I/O error`, ok, cmd)
}

// Command groups, as the help lists them.
const (
	groupRead   = "read"
	groupChange = "change"
	groupPipe   = "pipe"
)

// exitCode ends a run with that exit status; the command has already said
// why on stderr.
type exitCode int

func (c exitCode) Error() string { return fmt.Sprintf("exit status %d", int(c)) }

// usageError is a command line that cannot run; run prints it on stderr
// and exits with exitUsage.
type usageError string

func (e usageError) Error() string { return string(e) }

func init() {
	cobra.EnableCommandSorting = false // the help lists the commands in the order added
}

// run runs the command line args and returns the exit code.
func run(args []string, e *env) int {
	root := newRoot(e)
	// A nil slice would make cobra read os.Args.
	root.SetArgs(append([]string{}, args...))
	err := root.Execute()
	var code exitCode
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &code):
		return int(code)
	}
	var ue usageError
	if !errors.As(err, &ue) {
		err = fmt.Errorf("offsets-log: %w", err)
	}
	fmt.Fprintln(e.stderr, err)
	return exitUsage
}

// newRoot builds the command tree for one run; the commands keep their
// flags' values, so each run needs its own.
func newRoot(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:   "offsets-log COMMAND [flags] DIR",
		Short: "replay, inspect, verify and compact an offsets log",
		Long:  rootHelp,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageError(fmt.Sprintf("offsets-log: no command %q; the commands are replay, dump, verify, stats, export, reset-plan, compact, repair and import; run 'offsets-log help'", args[0]))
			}
			return nil
		},
		// Without a command, the help goes to stderr and the run fails.
		RunE: func(c *cobra.Command, _ []string) error {
			c.SetOut(e.stderr)
			c.Help()
			return exitCode(exitUsage)
		},
		SilenceErrors:     true,
		SilenceUsage:      true,
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
	}
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	root.SetFlagErrorFunc(flagError)
	root.AddGroup(
		&cobra.Group{ID: groupRead, Title: "Commands that only read (they never write to DIR and work while a node runs):"},
		&cobra.Group{ID: groupChange, Title: "Commands that change the log (they refuse while a node holds DIR):"},
		&cobra.Group{ID: groupPipe, Title: "Commands that read no log:"},
	)
	for _, c := range []*cobra.Command{replayCommand(e), dumpCommand(e), verifyCommand(e), statsCommand(e), exportCommand(e), resetPlanCommand(e), compactCommand(e), repairCommand(e)} {
		c.Long = strings.TrimSpace(c.Long) + "\n\n" + dirHelp + "\n\n" + exitHelps[c.Name()]
		c.Args = oneDir
		root.AddCommand(c)
	}
	imp := importCommand(e)
	imp.Long = strings.TrimSpace(imp.Long) + "\n\n" + exitHelps[imp.Name()]
	root.AddCommand(imp)
	root.SetHelpCommand(&cobra.Command{
		Use:   "help [COMMAND]",
		Short: "print the help of offsets-log or of one command",
		RunE: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return root.Help()
			}
			if c, _, err := root.Find(args[:1]); err == nil && c != root {
				c.InitDefaultHelpFlag() // so that its help lists --help
				return c.Help()
			}
			return usageError(fmt.Sprintf("offsets-log: no command %q; run 'offsets-log help'", args[0]))
		},
	})
	return root
}

// runOn adapts a command's run on DIR to cobra.
func runOn(e *env, run func(e *env, dir string) int) func(*cobra.Command, []string) error {
	return func(_ *cobra.Command, args []string) error {
		if code := run(e, args[0]); code != exitOK {
			return exitCode(code)
		}
		return nil
	}
}

func oneDir(c *cobra.Command, args []string) error {
	if len(args) != 1 {
		return usageError(fmt.Sprintf("offsets-log %s: want one DIR, got %d arguments %q; run 'offsets-log %s --help'", c.Name(), len(args), args, c.Name()))
	}
	return nil
}

// flagError is a flag cobra could not parse, with where to read more.
func flagError(c *cobra.Command, err error) error {
	msg := err.Error()
	var ive *pflag.InvalidValueError
	if errors.As(err, &ive) {
		msg = invalidValue(ive.GetFlag(), ive.GetValue())
	}
	// Go's flag package took -json for --json; pflag reads it as -j -s -o -n.
	var ne *pflag.NotExistError
	if errors.As(err, &ne) && ne.GetSpecifiedShortnames() != "" {
		name, _, _ := strings.Cut(ne.GetSpecifiedShortnames(), "=")
		if c.Flags().Lookup(name) != nil {
			msg += fmt.Sprintf(" (did you mean --%s?)", name)
		}
	}
	if !c.HasParent() {
		return usageError(fmt.Sprintf("%s\nusage: offsets-log COMMAND [flags] DIR; run 'offsets-log help'", msg))
	}
	return usageError(fmt.Sprintf("%s\nusage: %s [flags] DIR; run '%s --help'", msg, c.CommandPath(), c.CommandPath()))
}

// invalidValue says what a flag wants instead of the parser's own text
// (strconv.ParseUint: parsing "abc": invalid syntax).
func invalidValue(f *pflag.Flag, value string) string {
	want := "a valid " + f.Value.Type()
	switch f.Value.Type() {
	case "uint64", "uint", "uint32":
		want = "a whole number, 0 or more, such as 12"
	case "int64", "int", "int32":
		want = "a whole number such as 12 or -3"
	case "duration":
		want = "a duration such as 90s, 15m, 24h or 0"
	case "bool":
		want = "true or false"
	}
	return fmt.Sprintf("--%s %q: want %s", f.Name, value, want)
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
		case len(subs) == 1 && subs[0] == "log":
			msg += fmt.Sprintf(" It is a cluster member's directory, whose log is in log/: give %s.", filepath.Join(dir, subs[0]))
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
		return fmt.Sprintf("%v. That history is gone: a checkpoint keeps only the live records.", err), exitUsage
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
