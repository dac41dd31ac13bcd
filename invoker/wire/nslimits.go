package wire

import (
	"encoding/json"
	"fmt"
)

// NamespaceActionLimits are the action limits a namespace's limits document ("<namespace>/limits" in the
// subjects database, OpenWhisk's UserLimits) sets: memory and logs in MB, timeout in milliseconds,
// concurrency as a count. A nil bound is not set (the system's applies).
type NamespaceActionLimits struct {
	MinActionMemory, MaxActionMemory           *int
	MinActionLogs, MaxActionLogs               *int
	MinActionTimeout, MaxActionTimeout         *int
	MinActionConcurrency, MaxActionConcurrency *int
}

// ParseNamespaceActionLimits reads the action-limit members of a limits document (other members are ignored;
// null and absent mean unset). A member that is present but not an integer is an error: OpenWhisk drops the
// whole document then, and so does the caller.
func ParseNamespaceActionLimits(doc []byte) (NamespaceActionLimits, error) {
	var raw map[string]json.RawMessage
	var l NamespaceActionLimits
	if len(doc) == 0 || string(doc) == "null" {
		return l, nil
	}
	if err := json.Unmarshal(doc, &raw); err != nil {
		return l, malformed("limits document", "want an object: %v", err)
	}
	for name, dst := range map[string]**int{
		"minActionMemory": &l.MinActionMemory, "maxActionMemory": &l.MaxActionMemory,
		"minActionLogs": &l.MinActionLogs, "maxActionLogs": &l.MaxActionLogs,
		"minActionTimeout": &l.MinActionTimeout, "maxActionTimeout": &l.MaxActionTimeout,
		"minActionConcurrency": &l.MinActionConcurrency, "maxActionConcurrency": &l.MaxActionConcurrency,
	} {
		v, ok := raw[name]
		if !ok || string(v) == "null" {
			continue
		}
		n, isInt := parseIntegral(v)
		if !isInt {
			return NamespaceActionLimits{}, malformed("limits document", "%s: want an integer, got %s", name, v)
		}
		i := int(n)
		*dst = &i
	}
	return l, nil
}

func (l NamespaceActionLimits) String() string {
	f := func(p *int) string {
		if p == nil {
			return "-"
		}
		return fmt.Sprint(*p)
	}
	return fmt.Sprintf("memory %s..%s MB, logs %s..%s MB, timeout %s..%s ms, concurrency %s..%s",
		f(l.MinActionMemory), f(l.MaxActionMemory), f(l.MinActionLogs), f(l.MaxActionLogs),
		f(l.MinActionTimeout), f(l.MaxActionTimeout), f(l.MinActionConcurrency), f(l.MaxActionConcurrency))
}
