package wire

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func addFPCSeeds(f *testing.F, prefix string) {
	paths, err := filepath.Glob(filepath.Join(fpcFixturesDir, prefix+"*.json"))
	if err != nil || len(paths) == 0 {
		f.Fatalf("no %s fixtures: %v", prefix, err)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// onlyWireErrors fails unless err is nil or wraps one of the package's sentinels.
func onlyWireErrors(t *testing.T, err error) {
	t.Helper()
	if err != nil && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrInvalidActivationID) {
		t.Fatalf("error %v wraps no sentinel", err)
	}
}

// FuzzParseContainerMessage: parsing never panics, errors wrap a sentinel, and a parsed message re-encodes to
// bytes that parse to the same message with the transid echoed verbatim.
func FuzzParseContainerMessage(f *testing.F) {
	addFPCSeeds(f, "container-")
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseContainerMessage(b)
		onlyWireErrors(t, err)
		if err != nil {
			return
		}
		var out []byte
		switch c := m.(type) {
		case *ContainerCreationMessage:
			out, err = c.Marshal()
		case *ContainerDeletionMessage:
			out, err = c.Marshal()
		}
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		if !bytes.Contains(out, m.Transaction().Raw) {
			t.Fatalf("transid %s not echoed in %s", m.Transaction().Raw, out)
		}
		again, err := ParseContainerMessage(out)
		if err != nil {
			t.Fatalf("re-encoded message does not parse: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(again, m) {
			t.Fatalf("round trip changed the message:\n%+v\n%+v", m, again)
		}
	})
}

// FuzzParseContainerCreationAck: the scheduler-side reader never panics, and what it accepts re-encodes to a
// fixed point.
func FuzzParseContainerCreationAck(f *testing.F) {
	addFPCSeeds(f, "container-creation-ack-")
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ParseContainerCreationAck(b)
		onlyWireErrors(t, err)
		if err != nil {
			return
		}
		out, err := a.Marshal()
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		again, err := ParseContainerCreationAck(out)
		if err != nil {
			t.Fatalf("re-encoded ack does not parse: %v\n%s", err, out)
		}
		// A fixed point after one encoding (absent and empty lists both come back as []).
		out2, err := again.Marshal()
		if err != nil || !bytes.Equal(out2, out) {
			t.Fatalf("round trip changed the ack: %v\n%s\n%s", err, out, out2)
		}
	})
}

// FuzzParseFetchResponse: never panics; an activation keeps its raw bytes and re-wraps to an equal result.
func FuzzParseFetchResponse(f *testing.F) {
	addFPCSeeds(f, "fetch-response-")
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseFetchResponse(b)
		onlyWireErrors(t, err)
		if err != nil {
			return
		}
		if (r.Activation == nil) == (r.Error == "") {
			t.Fatalf("exactly one of activation and error must be set: %+v", r)
		}
		var out []byte
		if r.Error != "" {
			out, err = MarshalFetchError(r.Error)
		} else {
			out, err = MarshalFetchActivation(r.Raw)
		}
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseFetchResponse(out)
		if err != nil || !reflect.DeepEqual(again, r) {
			t.Fatalf("re-wrap changed the result: %v\n%+v\n%+v", err, r, again)
		}
	})
}

// FuzzParseEtcdValues: the resource record and the scheduler records never panic and round-trip.
func FuzzParseEtcdValues(f *testing.F) {
	addFPCSeeds(f, "invoker-resource-")
	addFPCSeeds(f, "scheduler-")
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, err := ParseInvokerResourceMessage(b); err == nil {
			out, _ := r.Marshal()
			again, err := ParseInvokerResourceMessage(out)
			if err != nil || !reflect.DeepEqual(normResource(again), normResource(r)) {
				t.Fatalf("resource round trip: %v %+v %+v", err, r, again)
			}
		} else {
			onlyWireErrors(t, err)
		}
		if e, err := ParseSchedulerEndpoints(b); err == nil {
			out, _ := e.Marshal()
			again, err := ParseSchedulerEndpoints(out)
			if err != nil || again != e {
				t.Fatalf("endpoints round trip: %v %+v %+v", err, e, again)
			}
		} else {
			onlyWireErrors(t, err)
		}
		if s, err := ParseSchedulerStates(b); err == nil {
			out, _ := s.Marshal()
			again, err := ParseSchedulerStates(out)
			if err != nil || again != s {
				t.Fatalf("states round trip: %v %+v %+v", err, s, again)
			}
		} else {
			onlyWireErrors(t, err)
		}
	})
}

// normResource treats nil and empty lists alike (both are written as []).
func normResource(r InvokerResourceMessage) InvokerResourceMessage {
	if len(r.Tags) == 0 {
		r.Tags = nil
	}
	if len(r.DedicatedNamespaces) == 0 {
		r.DedicatedNamespaces = nil
	}
	return r
}
