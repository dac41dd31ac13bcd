package activationpb

import (
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// fieldsOnWire decodes the top-level (number, wire type) pairs of an encoded message.
func fieldsOnWire(t *testing.T, b []byte) map[protowire.Number]protowire.Type {
	t.Helper()
	out := map[protowire.Number]protowire.Type{}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			t.Fatalf("bad tag: %v", protowire.ParseError(n))
		}
		b = b[n:]
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			t.Fatalf("bad value of field %d: %v", num, protowire.ParseError(m))
		}
		b = b[m:]
		out[num] = typ
	}
	return out
}

// The field numbers and types are the contract with the scheduler: encode every field and read the tags back.
func TestWireContract(t *testing.T) {
	cases := []struct {
		msg  proto.Message
		want map[protowire.Number]protowire.Type
	}{
		{&FetchRequest{TransactionId: "t", InvocationNamespace: "n", Fqn: "f", Rev: "r", ContainerId: "c",
			Warmed: true, LastDuration: wrapperspb.Int64(12), Alive: true},
			map[protowire.Number]protowire.Type{1: protowire.BytesType, 2: protowire.BytesType, 3: protowire.BytesType,
				4: protowire.BytesType, 5: protowire.BytesType, 6: protowire.VarintType, 7: protowire.BytesType, 8: protowire.VarintType}},
		{&FetchResponse{ActivationMessage: "m"}, map[protowire.Number]protowire.Type{1: protowire.BytesType}},
		{&RescheduleRequest{InvocationNamespace: "n", Fqn: "f", Rev: "r", ActivationMessage: "m"},
			map[protowire.Number]protowire.Type{1: protowire.BytesType, 2: protowire.BytesType, 3: protowire.BytesType, 4: protowire.BytesType}},
		{&RescheduleResponse{IsRescheduled: true}, map[protowire.Number]protowire.Type{1: protowire.VarintType}},
	}
	for _, c := range cases {
		b, err := proto.Marshal(c.msg)
		if err != nil {
			t.Fatal(err)
		}
		got := fieldsOnWire(t, b)
		if len(got) != len(c.want) {
			t.Errorf("%T: fields %v, want %v", c.msg, got, c.want)
		}
		for n, typ := range c.want {
			if got[n] != typ {
				t.Errorf("%T field %d: wire type %v, want %v", c.msg, n, got[n], typ)
			}
		}
	}
	// lastDuration is a google.protobuf.Int64Value: absent when unset, its value in field 1 inside.
	fr := &FetchRequest{}
	fd := fr.ProtoReflect().Descriptor().Fields().ByNumber(7)
	if fd.Message() == nil || fd.Message().FullName() != "google.protobuf.Int64Value" {
		t.Fatalf("field 7 is %v", fd.Kind())
	}
	if b, _ := proto.Marshal(fr); len(b) != 0 {
		t.Fatalf("empty request encodes to %x", b)
	}
}

func TestNamesAreTheContract(t *testing.T) {
	if ActivationService_FetchActivation_FullMethodName != "/activation.ActivationService/FetchActivation" ||
		ActivationService_RescheduleActivation_FullMethodName != "/activation.ActivationService/RescheduleActivation" {
		t.Fatal("method paths changed")
	}
	names := map[protoreflect.FullName][]string{
		"activation.FetchRequest":       {"transactionId", "invocationNamespace", "fqn", "rev", "containerId", "warmed", "lastDuration", "alive"},
		"activation.FetchResponse":      {"activationMessage"},
		"activation.RescheduleRequest":  {"invocationNamespace", "fqn", "rev", "activationMessage"},
		"activation.RescheduleResponse": {"isRescheduled"},
	}
	for _, m := range []proto.Message{&FetchRequest{}, &FetchResponse{}, &RescheduleRequest{}, &RescheduleResponse{}} {
		d := m.ProtoReflect().Descriptor()
		want := names[d.FullName()]
		if want == nil || d.Fields().Len() != len(want) {
			t.Fatalf("%s: unexpected message or field count", d.FullName())
		}
		for i, n := range want {
			if f := d.Fields().Get(i); string(f.JSONName()) != n || int(f.Number()) != i+1 {
				t.Errorf("%s field %d: %s #%d, want %s #%d", d.FullName(), i, f.JSONName(), f.Number(), n, i+1)
			}
		}
	}
}
