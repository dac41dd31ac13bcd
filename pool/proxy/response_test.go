package proxy

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestResponseHelpers(t *testing.T) {
	r := ErrorResponse(StatusDeveloperError, `quote " and <tag> & newline`+"\n")
	if got, want := string(mustMarshal(t, r.MarshalJSON)), `{"statusCode":2,"result":{"error":"quote \" and <tag> & newline\n"}}`; got != want {
		t.Fatalf("got %s\nwant %s", got, want)
	}
	if !strings.Contains(string(r.Result), "<tag> &") {
		t.Fatalf("HTML escaped: %s", r.Result)
	}
	size := 40
	v := ErrorValueResponse(StatusApplicationError, json.RawMessage(`{ "message": "name is required" }`), &size)
	if got, want := string(mustMarshal(t, v.MarshalJSON)), `{"statusCode":1,"result":{"error":{"message":"name is required"}},"size":40}`; got != want {
		t.Fatalf("got %s\nwant %s", got, want)
	}
	if got := string(mustMarshal(t, Response{StatusCode: 0, Result: json.RawMessage(" null ")}.MarshalJSON)); got != `{"statusCode":0}` {
		t.Fatalf("null result: %s", got)
	}
	if _, err := (Response{Result: json.RawMessage(`{"a":`)}).MarshalJSON(); err == nil {
		t.Fatal("invalid result JSON encoded without error")
	}
	names := []string{"success", "application error", "action developer error", "whisk internal error"}
	for code, name := range names {
		r := Response{StatusCode: code}
		if r.StatusName() != name || r.IsSystemError() != (code == 3) || r.DestroysContainer() != (code >= 2) {
			t.Errorf("code %d: %s %v %v", code, r.StatusName(), r.IsSystemError(), r.DestroysContainer())
		}
	}
}

func TestErrorText(t *testing.T) {
	for _, c := range []struct {
		r    Response
		want string
	}{
		{ErrorResponse(StatusDeveloperError, "boom"), "boom"},
		{ErrorValueResponse(StatusApplicationError, json.RawMessage(`{"code":7}`), nil), `{"code":7}`},
		{Response{StatusCode: StatusWhiskError}, "status 3"},
		{Response{StatusCode: StatusSuccess, Result: json.RawMessage(`{"ok":true}`)}, "status 0"},
	} {
		if got := c.r.ErrorText(); got != c.want {
			t.Errorf("%s: ErrorText() = %q, want %q", c.r.Result, got, c.want)
		}
	}
}
