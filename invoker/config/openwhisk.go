package config

import (
	"encoding/base64"
	"regexp"
	"sort"
	"strings"
)

// OpenWhisk's invoker reads its settings from, in increasing precedence: a HOCON file (OPENWHISK_CONFIG, or
// base64 in OPENWHISK_ENCODED_CONFIG: transformEnvironment.sh writes it to -Dconfig.file), -D system
// properties in JAVA_OPTS then INVOKER_OPTS (the start script passes both to java), and the CONFIG_*
// variables, which transformEnvironment.sh turns into -D properties appended last. Load reads all four
// the same way: owSettings holds every setting under its HOCON path, and the CONFIG_* names the rest of
// this package reads fall back to it (settingsEnv).
const (
	EnvOpenWhiskConfig        = "OPENWHISK_CONFIG"
	EnvOpenWhiskEncodedConfig = "OPENWHISK_ENCODED_CONFIG"
	EnvJavaOpts               = "JAVA_OPTS"
	EnvInvokerOpts            = "INVOKER_OPTS"
	configPrefix              = "CONFIG_"
)

// owSetting is one setting and where it came from (a variable's name, for messages).
type owSetting struct {
	value, from string
}

// owSettings maps HOCON paths ("whisk.container-pool.user-memory") to settings.
type owSettings map[string]owSetting

// camelHump is what transformEnvironment.sh turns into a dash: a lower-case letter or digit followed by an
// upper-case letter.
var camelHump = regexp.MustCompile(`([a-z0-9])([A-Z])`)

// settingPath turns a CONFIG_* variable name into the HOCON path OpenWhisk gives it: CONFIG_ dropped, '_'
// becomes '.', camelCase parts become kebab-case and PascalCase parts stay
// (CONFIG_whisk_spi_LogStoreProvider → whisk.spi.LogStoreProvider). ok is false for other names.
func settingPath(name string) (string, bool) {
	rest, ok := strings.CutPrefix(name, configPrefix)
	if !ok || rest == "" {
		return "", false
	}
	parts := strings.Split(rest, "_")
	for i, part := range parts {
		if part != "" && part[0] >= 'A' && part[0] <= 'Z' {
			continue
		}
		parts[i] = camelHump.ReplaceAllStringFunc(part, func(m string) string {
			return m[:1] + "-" + strings.ToLower(m[1:])
		})
	}
	return strings.Join(parts, "."), true
}

// collectSettings gathers the settings of every source. names are the environment's variable names when
// the caller can list them (LoadEnviron); without them only the HOCON file and the -D properties are
// listed, and CONFIG_* variables are still read one by one through settingsEnv.
func collectSettings(getenv func(string) string, names []string) (owSettings, error) {
	s := owSettings{}
	from := EnvOpenWhiskConfig
	text := getenv(EnvOpenWhiskConfig)
	if strings.TrimSpace(text) == "" {
		from = EnvOpenWhiskEncodedConfig
		enc := strings.Join(strings.Fields(getenv(EnvOpenWhiskEncodedConfig)), "")
		if enc != "" {
			raw, err := base64.StdEncoding.DecodeString(enc)
			if err != nil {
				return nil, invalidCause(EnvOpenWhiskEncodedConfig, err, "not base64: %v", err)
			}
			text = string(raw)
		}
	}
	if strings.TrimSpace(text) != "" {
		m, err := parseHOCON(text, getenv)
		if err != nil {
			return nil, invalidCause(from, err, "%v", err)
		}
		for k, v := range m {
			s[k] = owSetting{value: v, from: from + " " + k}
		}
	}
	for _, opts := range []string{EnvJavaOpts, EnvInvokerOpts} {
		words, err := shellWords(getenv(opts))
		if err != nil {
			return nil, invalid(opts, "%v", err)
		}
		for _, w := range words {
			prop, ok := strings.CutPrefix(w, "-D")
			if !ok {
				continue
			}
			k, v, _ := strings.Cut(prop, "=")
			if k = strings.TrimSpace(k); k != "" {
				s[k] = owSetting{value: v, from: opts + " -D" + k}
			}
		}
	}
	sorted := append([]string(nil), names...)
	sort.Strings(sorted)
	for _, name := range sorted {
		path, ok := settingPath(name)
		if !ok {
			continue
		}
		if v := strings.TrimSpace((env{getenv}).raw(name)); v != "" {
			s[path] = owSetting{value: v, from: name}
		}
	}
	return s, nil
}

// get returns a setting's value, "" when unset.
func (s owSettings) get(path string) string { return s[path].value }

// under lists the paths below prefix (prefix + "." + ...), sorted.
func (s owSettings) under(prefix string) []string {
	var out []string
	for k := range s {
		if strings.HasPrefix(k, prefix+".") {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// owSource is every OpenWhisk source: the collected settings and the environment itself.
type owSource struct {
	s      owSettings
	getenv func(string) string
}

// lookup reads a setting by its CONFIG_* name: the variable itself, else the same setting from the HOCON
// file or a -D property. from names where the value came from; both are "" when unset.
func (o owSource) lookup(name string) (value, from string) {
	if v := strings.TrimSpace((env{o.getenv}).raw(name)); v != "" {
		return v, name
	}
	if path, ok := settingPath(name); ok {
		if st := o.s[path]; strings.TrimSpace(st.value) != "" {
			return strings.TrimSpace(st.value), st.from
		}
	}
	return "", ""
}

// lookupRaw is lookup without trimming the value (passwords).
func (o owSource) lookupRaw(name string) (value, from string) {
	if v := (env{o.getenv}).raw(name); v != "" {
		return v, name
	}
	if path, ok := settingPath(name); ok {
		if st := o.s[path]; st.value != "" {
			return st.value, st.from
		}
	}
	return "", ""
}

// overlay is the getenv the rest of Load reads through (settingsEnv).
func (o owSource) overlay() func(string) string { return settingsEnv(o.getenv, o.s) }

// settingsEnv is the getenv the rest of Load reads through: a CONFIG_* variable set in the environment
// wins; an unset one falls back to the same setting from the HOCON file or a -D property.
func settingsEnv(getenv func(string) string, s owSettings) func(string) string {
	return func(name string) string {
		if v := getenv(name); v != "" || !strings.HasPrefix(name, configPrefix) {
			return v
		}
		if path, ok := settingPath(name); ok {
			return s.get(path)
		}
		return ""
	}
}

// shellWords splits JAVA_OPTS / INVOKER_OPTS as the start script's shell does: blanks separate words,
// single and double quotes group (transformEnvironment.sh writes -Dkey='value').
func shellWords(s string) ([]string, error) {
	var words []string
	var b strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'' || c == '"':
			j := strings.IndexByte(s[i+1:], c)
			if j < 0 {
				return nil, errUnbalancedQuote(c)
			}
			b.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == '\\' && i+1 < len(s):
			i++
			b.WriteByte(s[i])
			inWord = true
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				words = append(words, b.String())
				b.Reset()
				inWord = false
			}
		default:
			b.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, b.String())
	}
	return words, nil
}

type errUnbalancedQuote byte

func (e errUnbalancedQuote) Error() string { return "unbalanced " + string(rune(e)) + " quote" }
