package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nemo-edge/nemo/invoker/wire"
)

// Duration is a time.Duration written in the config file as a string: a Go duration ("10s", "1m30s",
// "-1s") or a HOCON/Scala one ("10 seconds", "50 milliseconds", "2 minutes"). Numbers are rejected
// because their unit would be a guess. It is written back in the shortest exact Go form ("10m", "3s").
type Duration time.Duration

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) String() string {
	v := time.Duration(d)
	for _, u := range []struct {
		unit time.Duration
		name string
	}{{time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}, {time.Millisecond, "ms"}} {
		if v != 0 && v%u.unit == 0 {
			return strconv.FormatInt(int64(v/u.unit), 10) + u.name
		}
	}
	return v.String()
}

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return typeError[Duration](fmt.Sprintf("want a duration string such as \"10s\" or \"10 minutes\", got %s", jsonKind(b)))
	}
	v, err := parseDuration(s)
	if err != nil {
		return typeError[Duration](err.Error())
	}
	*d = Duration(v)
	return nil
}

// parseDuration accepts Go and HOCON durations.
func parseDuration(s string) (time.Duration, error) {
	v, err := wire.ParseScalaDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (e.g. \"10s\" or \"10 minutes\")", s)
	}
	return v, nil
}

// MB is a memory size in MiB. The config file gives it as an integer number of MB (2048), or as a string
// with a unit: "2048m", "2g", "1024 MB", "512k" would not be a whole MB and is rejected; a bare string
// number is MB too. Units are binary (k = 1024), as in OpenWhisk's ByteSize. Written back as an integer.
type MB int

// UnmarshalJSON reads an integer (MB) or a size string.
func (m *MB) UnmarshalJSON(b []byte) error {
	t := bytes.TrimSpace(b)
	if len(t) > 0 && (t[0] == '-' || t[0] >= '0' && t[0] <= '9') {
		n, err := strconv.Atoi(string(t))
		if err != nil {
			return typeError[MB](fmt.Sprintf("%s is not a whole number of MB", t))
		}
		*m = MB(n)
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return typeError[MB](fmt.Sprintf("want a size such as 2048 or \"2g\", got %s", jsonKind(b)))
	}
	if n, err := strconv.Atoi(strings.TrimSpace(s)); err == nil {
		*m = MB(n)
		return nil
	}
	v, err := parseSizeMB(s)
	if err != nil {
		return typeError[MB](err.Error())
	}
	*m = v
	return nil
}

// parseSizeMB reads a size with a unit (B, K, KB, M, MB, G, GB; binary) and requires a whole number of MB.
// A bare number is bytes, as in HOCON.
func parseSizeMB(s string) (MB, error) {
	t := strings.TrimSpace(s)
	if _, err := strconv.ParseInt(t, 10, 64); err == nil {
		t += "B"
	}
	b, err := wire.ParseByteSize(t)
	if err != nil {
		return 0, fmt.Errorf("%q is not a size (e.g. \"2048m\", \"2g\")", s)
	}
	if b%(1<<20) != 0 {
		return 0, fmt.Errorf("%q is not a whole number of MB", s)
	}
	if b>>20 > 1<<31-1 {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return MB(b >> 20), nil
}

// typeError makes a custom unmarshal error that encoding/json decorates with the field path
// (see jsonError, which prints msg as it is).
func typeError[T any](msg string) error {
	return &json.UnmarshalTypeError{Value: msg, Type: reflect.TypeFor[T]()}
}

func jsonKind(b []byte) string {
	t := bytes.TrimSpace(b)
	if len(t) == 0 {
		return "nothing"
	}
	switch t[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// parseBool reads a HOCON boolean: true/false, yes/no, on/off.
func parseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "yes", "on":
		return true, nil
	case "false", "no", "off":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a boolean (true/false, yes/no, on/off)", s)
}

var cpusetRE = regexp.MustCompile(`^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$`)

// checkCPUSet validates cpuset.cpus syntax ("1", "2-3", "0,2-3"): ascending ranges, CPUs below 4096.
func checkCPUSet(s string) error {
	if !cpusetRE.MatchString(s) {
		return fmt.Errorf("%q is not a cpuset (e.g. \"1\", \"2-3\", \"0,2-3\")", s)
	}
	for _, part := range strings.Split(s, ",") {
		lo, hi, found := strings.Cut(part, "-")
		a, _ := strconv.Atoi(lo)
		b := a
		if found {
			b, _ = strconv.Atoi(hi)
		}
		if b < a {
			return fmt.Errorf("%q: range %s is descending", s, part)
		}
		if b > 4095 {
			return fmt.Errorf("%q: CPU %d out of range", s, b)
		}
	}
	return nil
}

// formatCPUSet writes cores as a cpuset, merging runs: [3 1 2 5] → "1-3,5".
func formatCPUSet(cores []int) string {
	cs := append([]int(nil), cores...)
	sort.Ints(cs)
	var parts []string
	for i := 0; i < len(cs); {
		j := i
		for j+1 < len(cs) && cs[j+1] <= cs[j]+1 {
			j++
		}
		if cs[j] == cs[i] {
			parts = append(parts, strconv.Itoa(cs[i]))
		} else {
			parts = append(parts, strconv.Itoa(cs[i])+"-"+strconv.Itoa(cs[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}
