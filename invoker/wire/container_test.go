package wire

import (
	"encoding/json"
	"testing"
)

func decodeInitEnv(t *testing.T, body []byte) (value map[string]json.RawMessage, env map[string]string) {
	t.Helper()
	var b struct {
		Value map[string]json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		t.Fatal(err)
	}
	if raw, ok := b.Value["env"]; ok {
		if err := json.Unmarshal(raw, &env); err != nil {
			t.Fatal(err)
		}
	}
	return b.Value, env
}

func TestInitBodyEnv(t *testing.T) {
	msg, action := helloWithCode(t)
	msg.Content = json.RawMessage(`{"name":"World","db":{"url":"x"},"port":5432,"debug":false,"none":null,"__OW_NAMESPACE":"spoof"}`)
	msg.InitArgs = []string{"db", "port", "debug", "none", "__OW_NAMESPACE"}
	body, err := InitBody(msg, action, 1717236980608)
	if err != nil {
		t.Fatal(err)
	}
	_, env := decodeInitEnv(t, body)
	want := map[string]string{
		"db": `{"url":"x"}`, "port": "5432", "debug": "false", "none": "",
		"__OW_NAMESPACE": "guest", "__OW_ACTION_NAME": "/guest/hello", "__OW_ACTION_VERSION": "0.0.2",
		"__OW_ACTIVATION_ID": "c7a9e52b1f0d4e3ab9e52b1f0d5e3a77", "__OW_TRANSACTION_ID": "k3Mx7QpZ2bN9aLr4Vt8WcY1dEf6GhJ0s",
		"__OW_DEADLINE": "1717236980608",
	}
	if len(env) != len(want) {
		t.Fatalf("env %v, want %v", env, want)
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("env[%s] = %q, want %q", k, env[k], v)
		}
	}
	run, err := RunBody(msg, action, 1)
	if err != nil {
		t.Fatal(err)
	}
	var r map[string]json.RawMessage
	_ = json.Unmarshal(run, &r)
	assertJSONEqual(t, r["value"], []byte(`{"name":"World"}`))
}

func TestAPIKeyOnlyWhenProvideAPIKeyTruthy(t *testing.T) {
	msg, action := helloWithCode(t)
	for _, c := range []struct {
		name string
		ann  []KeyValue
		want bool
	}{
		{"absent", nil, true},
		{"true", []KeyValue{KV("provide-api-key", true)}, true},
		{"false", []KeyValue{KV("provide-api-key", false)}, false},
		{"zero", []KeyValue{KV("provide-api-key", 0)}, false},
		{"empty string", []KeyValue{KV("provide-api-key", "")}, false},
		{"null", []KeyValue{{Key: "provide-api-key", Value: json.RawMessage("null")}}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			action.Annotations = c.ann
			body, err := InitBody(msg, action, 1)
			if err != nil {
				t.Fatal(err)
			}
			_, env := decodeInitEnv(t, body)
			_, hasInit := env["__OW_API_KEY"]
			run, err := RunBody(msg, action, 1)
			if err != nil {
				t.Fatal(err)
			}
			var r map[string]json.RawMessage
			_ = json.Unmarshal(run, &r)
			_, hasRun := r["api_key"]
			if hasInit != c.want || hasRun != c.want {
				t.Fatalf("__OW_API_KEY %v api_key %v, want %v", hasInit, hasRun, c.want)
			}
			if c.want && env["__OW_API_KEY"] != msg.User.APIKey() {
				t.Fatalf("__OW_API_KEY = %q", env["__OW_API_KEY"])
			}
		})
	}
}

func TestRunBodyShapes(t *testing.T) {
	msg, action := helloWithCode(t)
	action.Annotations = nil
	msg.User.AuthKey = json.RawMessage(`{"api_key":"k","namespace":"spoof","value":"spoof","extra":1}`)
	msg.Action.Version = ""
	msg.Content = json.RawMessage(`[1,2]`)
	run, err := RunBody(msg, action, 1717236980645)
	if err != nil {
		t.Fatal(err)
	}
	assertJSONEqual(t, run, []byte(`{"value":[1,2],"api_key":"k","extra":1,"namespace":"guest","action_name":"/guest/hello",`+
		`"action_version":null,"activation_id":"c7a9e52b1f0d4e3ab9e52b1f0d5e3a77",`+
		`"transaction_id":"k3Mx7QpZ2bN9aLr4Vt8WcY1dEf6GhJ0s","deadline":"1717236980645"}`))
	msg.Content = nil
	run, _ = RunBody(msg, action, 1)
	var r map[string]json.RawMessage
	_ = json.Unmarshal(run, &r)
	if string(r["value"]) != "{}" {
		t.Fatalf("value without content = %s", r["value"])
	}
	body, _ := InitBody(msg, action, 1)
	_, env := decodeInitEnv(t, body)
	if v, ok := env["__OW_ACTION_VERSION"]; !ok || v != "" {
		t.Fatalf("absent version in init env: %q %v", v, ok)
	}
	if env["__OW_EXTRA"] != "1" {
		t.Fatalf("authkey members become __OW_<UPPER>: %v", env)
	}
}

func TestInitRequestCodePresence(t *testing.T) {
	bb := parseActionFixture(t, "action-doc-blackbox.json")
	bb.Exec.Code = ""
	v, _ := decodeInitEnv(t, mustMarshal(t, NewInitRequest(bb, nil).Marshal))
	if _, ok := v["code"]; ok {
		t.Fatal("blackbox without code must omit code")
	}
	if _, ok := v["env"]; ok {
		t.Fatal("empty env must be omitted")
	}
	managed := parseActionFixture(t, "action-doc-health.json")
	managed.Exec.Code = ""
	v, _ = decodeInitEnv(t, mustMarshal(t, NewInitRequest(managed, map[string]string{"K": "v"}).Marshal))
	if string(v["code"]) != `""` || string(v["main"]) != `"main"` || string(v["name"]) != `"invokerHealthTestAction0"` {
		t.Fatalf("managed init value %v", v)
	}
}
