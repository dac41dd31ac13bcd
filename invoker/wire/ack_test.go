package wire

import (
	"errors"
	"strings"
	"testing"

	"github.com/nemo-edge/nemo/pool/proxy"
)

func successActivation(t *testing.T) *WhiskActivation {
	t.Helper()
	a, _, err := ParseActivationDocument(readFixture(t, "activation-record-success.json"))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestAckConstructorsAndShrinking(t *testing.T) {
	a := successActivation(t)
	tid := NewTransID("k3Mx7QpZ2bN9aLr4Vt8WcY1dEf6GhJ0s", 1717236920000)
	inst := InvokerInstanceID{UserMemoryBytes: 1 << 30}

	r := NewResultMessage(tid, a.WithoutLogs())
	assertJSONEqual(t, mustMarshal(t, r.Marshal), readFixture(t, "result-message.json"))
	if len(a.Logs) != 1 {
		t.Fatal("WithoutLogs modified the original")
	}
	assertJSONEqual(t, mustMarshal(t, r.Shrunk().Marshal),
		[]byte(`{"transid":["k3Mx7QpZ2bN9aLr4Vt8WcY1dEf6GhJ0s",1717236920000],"response":"c7a9e52b1f0d4e3ab9e52b1f0d5e3a77"}`))

	c := NewCompletionMessage(tid, a, inst)
	assertJSONEqual(t, mustMarshal(t, c.Marshal), readFixture(t, "completion-message.json"))
	if c.Shrunk() != Ack(c) {
		t.Fatal("a Completion has nothing to shrink")
	}

	whisk := *a
	whisk.Response = proxy.ErrorResponse(proxy.StatusWhiskError, MsgActionNotFetched)
	comb := NewCombinedMessage(tid, &whisk, inst)
	if !comb.IsSystemError {
		t.Fatal("statusCode 3 must set isSystemError")
	}
	s := comb.Shrink()
	if s.Activation != nil || s.ActivationID != a.ActivationID || comb.Activation == nil || !s.IsSystemError {
		t.Fatalf("Shrink %+v (original %+v)", s, comb)
	}
	for _, ack := range []Ack{r, c, comb} {
		if ack.SlotFree() != (ack != Ack(r)) {
			t.Fatalf("%T SlotFree = %v", ack, ack.SlotFree())
		}
	}
}

func TestParseAckRejectsBadInput(t *testing.T) {
	const tid = `"transid":["a",1]`
	const inst = `"instance":{"instance":0,"userMemory":"1 B"}`
	for name, c := range map[string]struct {
		in      string
		want    error
		mention string
	}{
		"not JSON":                {`{`, ErrMalformed, "ack"},
		"no transid":              {`{"response":"c7a9e52b1f0d4e3ab9e52b1f0d5e3a77"}`, ErrMalformed, "transid"},
		"result without response": {`{` + tid + `}`, ErrMalformed, "response"},
		"response a number":       {`{` + tid + `,"response":5}`, ErrMalformed, "response"},
		"shrunk id invalid":       {`{` + tid + `,"response":"abc"}`, ErrInvalidActivationID, "response"},
		"completion without id":   {`{` + tid + `,"isSystemError":false,` + inst + `}`, ErrMalformed, "activationId"},
		"completion without flag": {`{` + tid + `,"activationId":"c7a9e52b1f0d4e3ab9e52b1f0d5e3a77",` + inst + `}`, ErrMalformed, "isSystemError"},
		"pre-1.0 invoker field":   {`{` + tid + `,"activationId":"c7a9e52b1f0d4e3ab9e52b1f0d5e3a77","isSystemError":false,"invoker":{"instance":0}}`, ErrMalformed, "response"},
		"combined bad activation": {`{` + tid + `,"response":{"namespace":"guest"},"isSystemError":false,` + inst + `}`, ErrMalformed, "name"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseAck([]byte(c.in))
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.mention) {
				t.Fatalf("err = %v, want %v mentioning %q", err, c.want, c.mention)
			}
		})
	}
}
