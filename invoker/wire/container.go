package wire

import (
	"encoding/json"
	"sort"
	"strconv"
	"strings"
)

// InitRequest is the body of POST /init: {"value":{"name","main","binary","code"?,"env"?}}
// (ExecutableWhiskAction.containerInitializer).
type InitRequest struct {
	Name    string // action simple name
	Main    string // exec.main, else "main"
	Binary  bool
	Code    string
	HasCode bool              // false omits "code" (a blackbox without code)
	Env     map[string]string // init parameters and __OW_* keys; omitted when empty
}

// NewInitRequest takes name, main, binary and code from the action (whose attachment the store has resolved
// into Exec.Code) and the given env.
func NewInitRequest(action *Action, env map[string]string) InitRequest {
	e := action.Exec
	return InitRequest{
		Name:    action.Name,
		Main:    e.EntryPoint(),
		Binary:  e.Binary,
		Code:    e.Code,
		HasCode: !e.IsBlackbox() || e.Code != "",
		Env:     env,
	}
}

// Marshal writes the body compactly, env keys sorted.
func (r InitRequest) Marshal() ([]byte, error) {
	v := newWriter()
	v.str("name", r.Name)
	v.str("main", r.Main)
	v.boolean("binary", r.Binary)
	if r.HasCode {
		v.str("code", r.Code)
	}
	if len(r.Env) > 0 {
		v.key("env")
		ew := newWriter()
		for _, k := range sortedKeys(r.Env) {
			ew.str(k, r.Env[k])
		}
		eb, err := ew.bytes()
		if err != nil {
			return nil, err
		}
		v.buf.Write(eb)
	}
	vb, err := v.bytes()
	if err != nil {
		return nil, err
	}
	w := newWriter()
	w.key("value")
	w.buf.Write(vb)
	return w.bytes()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// contextEnv is the activation context shared by /init (as __OW_<UPPER>) and /run (as is), in OpenWhisk's
// precedence: the authkey members (only when provide-api-key is truthy), then the fixed keys, which win.
func contextEnv(msg *ActivationMessage, action *Action, deadlineMillis int64) (keys []string, vals map[string]json.RawMessage) {
	vals = map[string]json.RawMessage{}
	if action.ProvideAPIKey() {
		auth := msg.User.AuthEnvironment()
		for _, k := range sortedKeys(auth) {
			keys = append(keys, k)
			vals[k] = auth[k]
		}
	}
	version := json.RawMessage("null") // Option[SemVer] None prints as null
	if msg.Action.Version != "" {
		version = encodeString(msg.Action.Version)
	}
	fixed := []struct {
		k string
		v json.RawMessage
	}{
		{"namespace", encodeString(msg.User.Namespace.Name)},
		{"action_name", encodeString(msg.Action.WithLeadingSlash())},
		{"action_version", version},
		{"activation_id", encodeString(msg.ActivationID)},
		{"transaction_id", encodeString(msg.TransID.ID())},
		{"deadline", encodeString(strconv.FormatInt(deadlineMillis, 10))},
	}
	for _, f := range fixed {
		if _, dup := vals[f.k]; !dup {
			keys = append(keys, f.k)
		}
		vals[f.k] = f.v
	}
	return keys, vals
}

// ActivationInitEnv is the /init env for an activation: the init parameters (msg.initArgs), overridden by
// __OW_<UPPER(key)> for the context keys (__OW_API_KEY only when provide-api-key is truthy or absent,
// __OW_NAMESPACE, __OW_ACTION_NAME, __OW_ACTION_VERSION, __OW_ACTIVATION_ID, __OW_TRANSACTION_ID, __OW_DEADLINE),
// every value stringified (StringifyEnvValue).
func ActivationInitEnv(msg *ActivationMessage, action *Action, deadlineMillis int64) map[string]string {
	env := msg.InitEnv()
	keys, vals := contextEnv(msg, action, deadlineMillis)
	for _, k := range keys {
		env["__OW_"+strings.ToUpper(k)] = StringifyEnvValue(vals[k])
	}
	return env
}

// InitBody is the /init body for the first activation of a container (cold or prewarmed).
func InitBody(msg *ActivationMessage, action *Action, deadlineMillis int64) ([]byte, error) {
	return NewInitRequest(action, ActivationInitEnv(msg, action, deadlineMillis)).Marshal()
}

// RunBody is the /run body: {"value": msg.RunValue(), "api_key"?…, "namespace", "action_name", "action_version",
// "activation_id", "transaction_id", "deadline": "<epoch ms as a string>"}.
func RunBody(msg *ActivationMessage, action *Action, deadlineMillis int64) ([]byte, error) {
	if b, ok := runBodyFast(msg, action, deadlineMillis); ok {
		return b, nil
	}
	return runBodyReference(msg, action, deadlineMillis)
}

// runBodyReference is RunBody through encoding/json.
func runBodyReference(msg *ActivationMessage, action *Action, deadlineMillis int64) ([]byte, error) {
	keys, vals := contextEnv(msg, action, deadlineMillis)
	w := newWriter()
	w.raw("value", msg.RunValue())
	for _, k := range keys {
		if k == "value" {
			continue // an authkey member cannot replace the parameters
		}
		w.raw(k, vals[k])
	}
	return w.bytes()
}
