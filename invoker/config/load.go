package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/nemo-edge/nemo/invoker/instanceid"
)

// EnvConfigPath names the config file when --config is not given.
const EnvConfigPath = "NEMO_CONFIG"

// Load builds the configuration from, in increasing precedence: Defaults, the JSON file (--config or
// $NEMO_CONFIG), the environment variables an OpenWhisk invoker deployment sets (see doc.go) and the
// command line that OpenWhisk's /init.sh passes (--id, --uniqueName, --displayedName, --overwriteId).
// getenv is usually os.Getenv. The result is validated; any problem is returned as one *Error wrapping
// ErrInvalid (and ErrCommandLine when the command line itself is at fault). -h/--help returns an error
// wrapping flag.ErrHelp; Flags declares the same flags for a caller that prints them.
//
// getenv cannot list the environment, so settings known only by a prefix (container-args extra-args,
// whisk.etcd.*, Kafka client settings) are found by Load only when they come from OPENWHISK_CONFIG or a -D
// option; LoadEnviron, which the invoker uses, finds them in CONFIG_* variables too.
func Load(args []string, getenv func(string) string) (*Config, error) {
	return load(args, getenv, nil)
}

// LoadEnviron is Load over an environment given as KEY=VALUE strings (os.Environ()): every CONFIG_*
// variable is seen, so every setting NEMO refuses is found wherever it is set.
func LoadEnviron(args []string, environ []string) (*Config, error) {
	m := make(map[string]string, len(environ))
	names := make([]string, 0, len(environ))
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		if _, dup := m[k]; !dup {
			names = append(names, k)
		}
		m[k] = v
	}
	return load(args, func(k string) string { return m[k] }, names)
}

func load(args []string, getenv func(string) string, names []string) (*Config, error) {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	cl, err := parseArgs(args)
	if err != nil {
		return nil, err
	}
	path := cl.configPath
	if path == "" {
		path = strings.TrimSpace(getenv(EnvConfigPath))
	}
	cfg := Defaults()
	if path != "" {
		if err := cfg.readFile(path); err != nil {
			return nil, err
		}
	}
	settings, err := collectSettings(getenv, names)
	if err != nil {
		return nil, err
	}
	src := owSource{s: settings, getenv: getenv}
	if err := refuseUnsupported(src); err != nil {
		return nil, err
	}
	if err := cfg.applyEnv(src.overlay()); err != nil {
		return nil, err
	}
	if err := cfg.applyOpenWhisk(src); err != nil {
		return nil, err
	}
	if err := cfg.applyArgs(cl, strings.TrimSpace(getenv(EnvZooKeeperHosts)) != ""); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// cmdLine is the parsed command line; nil pointers were not given.
type cmdLine struct {
	id, overwriteID           *int
	uniqueName, displayedName *string
	configPath                string
}

// Flags declares on fs the flags Load accepts, each with its usage text, so that a caller can print them
// (fs.PrintDefaults) without repeating them: Load parses with the same declarations.
func Flags(fs *flag.FlagSet) {
	var (
		cl      cmdLine
		flagErr *Error
	)
	declareFlags(fs, &cl, &flagErr)
}

// declareFlags declares the command line on fs, parsing into cl; a bad integer value is also kept in
// *flagErr, since flag.FlagSet flattens a Func's error into text.
func declareFlags(fs *flag.FlagSet, cl *cmdLine, flagErr **Error) {
	intFlag := func(name, usage string, dst **int) {
		fs.Func(name, usage, func(s string) error {
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || n < 0 {
				*flagErr = invalidCause("--"+name, ErrCommandLine, "%q is not a non-negative integer", s)
				return *flagErr
			}
			*dst = &n
			return nil
		})
	}
	// Names are trimmed and an empty one counts as not given, as OpenWhisk's invoker reads them.
	strFlag := func(name, usage string, dst **string) {
		fs.Func(name, usage, func(s string) error {
			if s = strings.TrimSpace(s); s != "" {
				*dst = &s
			} else {
				*dst = nil
			}
			return nil
		})
	}
	intFlag("id", "this invoker's id `N`: it consumes the topic invoker{N}; wins over everything else", &cl.id)
	intFlag("overwriteId", "with --uniqueName and no --id: move the name to id `N` in ZooKeeper (another name holding N\n"+
		"loses it); N at most the number of names with ids", &cl.overwriteID)
	strFlag("uniqueName", "unique `name` of this invoker (e.g. the node name; container names wsk{name}{N}_…); without\n"+
		"--id, ZooKeeper ($ZOOKEEPER_HOSTS) gives the id: the name's earlier id, else a new one", &cl.uniqueName)
	strFlag("displayedName", "displayed `name` of this invoker (health pings)", &cl.displayedName)
	fs.StringVar(&cl.configPath, "config", "", "JSON configuration `file` (default $"+EnvConfigPath+"; none: defaults + environment)")
}

func parseArgs(args []string) (cmdLine, error) {
	var (
		cl      cmdLine
		flagErr *Error
	)
	fs := flag.NewFlagSet("nemo", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	declareFlags(fs, &cl, &flagErr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cl, err
		}
		if flagErr != nil {
			return cl, flagErr
		}
		// flag's own messages: "flag provided but not defined: -x", "flag needs an argument: -id".
		return cl, invalidCause("command line", fmt.Errorf("%w: %w", ErrCommandLine, err), "%v", err)
	}
	if fs.NArg() > 0 {
		return cl, invalidCause("command line", ErrCommandLine, "unexpected argument %q (see --help)", fs.Arg(0))
	}
	return cl, nil
}

// applyArgs puts the command line over the file and environment. The id comes from --id; else, for a
// --uniqueName with ZooKeeper hosts, from ZooKeeper (left pending for the caller: PendingID); else from
// the config file. zkFromEnv says ZOOKEEPER_HOSTS (rather than the file) named the hosts, for errors.
func (c *Config) applyArgs(cl cmdLine, zkFromEnv bool) error {
	if cl.uniqueName != nil {
		c.Invoker.UniqueName = *cl.uniqueName
	}
	if cl.displayedName != nil {
		c.Invoker.DisplayedName = *cl.displayedName
	}
	switch {
	case cl.id != nil:
		c.Invoker.ID = *cl.id // OpenWhisk too ignores ZooKeeper and --overwriteId then
	case cl.uniqueName != nil && c.Invoker.ZooKeeperHosts != "":
		field := "invoker.zookeeperHosts"
		if zkFromEnv {
			field = EnvZooKeeperHosts
		}
		hosts, err := instanceid.ParseHosts(c.Invoker.ZooKeeperHosts)
		if err != nil {
			return invalid(field, "%v", err)
		}
		if err := instanceid.CheckName(*cl.uniqueName); err != nil {
			return invalid("--uniqueName", "%v: ZooKeeper keeps the id under a znode of that name", err)
		}
		c.pendingID = &IDRequest{Hosts: hosts, UniqueName: *cl.uniqueName, OverwriteID: cl.overwriteID}
	case cl.overwriteID != nil:
		return invalid("--overwriteId", "moves a unique name's id in ZooKeeper, so it needs --uniqueName and ZOOKEEPER_HOSTS; to set the id directly, pass --id N")
	case cl.uniqueName != nil && c.Invoker.ID == unsetID:
		return invalid("--uniqueName", "%q given without --id and without ZOOKEEPER_HOSTS: set ZOOKEEPER_HOSTS for OpenWhisk's id assignment, or pass --id N", *cl.uniqueName)
	}
	return nil
}

// IDRequest is the id assignment an invoker started with --uniqueName and no --id asks ZooKeeper for
// (package invoker/instanceid does it).
type IDRequest struct {
	Hosts       instanceid.Hosts
	UniqueName  string
	OverwriteID *int // --overwriteId, nil when not given
}

// PendingID returns the id assignment Load left to the caller, which does it (within
// Invoker.ZooKeeperTimeout) and records the result with SetID. ok is false when the id is known.
func (c *Config) PendingID() (req IDRequest, ok bool) {
	if c.pendingID == nil {
		return IDRequest{}, false
	}
	return *c.pendingID, true
}

// SetID records the id ZooKeeper assigned and validates the configuration again.
func (c *Config) SetID(id int) error {
	c.Invoker.ID = id
	c.pendingID = nil
	return c.Validate()
}

// readFile decodes the JSON config file over c. Unknown fields are errors (typos must not pass silently).
func (c *Config) readFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return invalidCause(path, err, "cannot read config file: %v", unwrapPathError(err))
	}
	if err := decodeStrict(data, c); err != nil {
		return jsonError(path, data, err)
	}
	if mp := c.Runtimes.ManifestPath; mp != "" && !filepath.IsAbs(mp) {
		mp = filepath.Join(filepath.Dir(path), mp)
		if abs, err := filepath.Abs(mp); err == nil {
			mp = abs
		}
		c.Runtimes.ManifestPath = mp
	}
	return nil
}

func decodeStrict(data []byte, v any) error {
	t := bytes.TrimSpace(data)
	if len(t) == 0 || t[0] != '{' {
		if len(t) == 0 {
			return fmt.Errorf("empty file, want a JSON object")
		}
		if json.Valid(t) {
			return fmt.Errorf("want a JSON object, got %s", jsonKind(t))
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return errUnexpectedEOF
		}
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errTrailingData
	}
	return nil
}

func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
