package wire

import "encoding/json"

// ParseEventMessage reads an event; the body is a Metric when it has "metricName", an Activation otherwise.
func ParseEventMessage(b []byte) (*EventMessage, error) {
	o, err := decodeObject(b, "event message")
	if err != nil {
		return nil, err
	}
	e := &EventMessage{}
	for _, f := range []struct {
		key string
		dst *string
	}{{"source", &e.Source}, {"subject", &e.Subject}, {"namespace", &e.Namespace}, {"userId", &e.UserID}, {"eventType", &e.EventType}} {
		if *f.dst, err = o.str(f.key, true); err != nil {
			return nil, err
		}
	}
	if e.Timestamp, err = o.integer("timestamp", true, 0); err != nil {
		return nil, err
	}
	body, _, err := o.sub("body", true)
	if err != nil {
		return nil, err
	}
	if body.has("metricName") {
		m := &MetricEventBody{}
		if m.MetricName, err = body.str("metricName", true); err != nil {
			return nil, err
		}
		if m.MetricValue, err = body.integer("metricValue", true, 0); err != nil {
			return nil, err
		}
		e.Metric = m
		return e, nil
	}
	if e.Activation, err = ParseActivationEventBody(body); err != nil {
		return nil, err
	}
	return e, nil
}

// ParseActivationEventBody reads an Activation body object.
func ParseActivationEventBody(o object) (*ActivationEventBody, error) {
	a := &ActivationEventBody{}
	var err error
	if a.Name, err = o.str("name", true); err != nil {
		return nil, err
	}
	if a.ActivationID, err = o.str("activationId", true); err != nil {
		return nil, err
	}
	if a.StatusCode, err = o.intField("statusCode", true, 0); err != nil {
		return nil, err
	}
	for _, f := range []struct {
		key string
		dst *int64
	}{{"duration", &a.Duration}, {"waitTime", &a.WaitTime}, {"initTime", &a.InitTime}} {
		if *f.dst, err = o.integer(f.key, true, 0); err != nil {
			return nil, err
		}
		if *f.dst < 0 {
			*f.dst = 0 // spray reads durations <= 0 as zero
		}
	}
	if a.Kind, err = o.str("kind", true); err != nil {
		return nil, err
	}
	if a.Conductor, err = o.boolean("conductor", true, false); err != nil {
		return nil, err
	}
	if a.Memory, err = o.intField("memory", true, 0); err != nil {
		return nil, err
	}
	if a.CausedBy, err = o.str("causedBy", false); err != nil {
		return nil, err
	}
	for _, f := range []struct {
		key string
		dst **int
	}{{"size", &a.Size}, {"userDefinedStatusCode", &a.UserDefinedStatusCode}} {
		if _, ok := o.get(f.key); ok {
			n, err := o.intField(f.key, false, 0)
			if err != nil {
				return nil, err
			}
			*f.dst = &n
		}
	}
	return a, nil
}

// ParseExec reads an exec object. A sequence returns the Exec together with an error wrapping ErrNotExecutable.
func ParseExec(b []byte) (*Exec, error) {
	o, err := decodeObject(b, "exec")
	if err != nil {
		return nil, err
	}
	return parseExec(o)
}

// Bytes reads a size limit given either as a ByteSize string ("1 MB") or as a number of bytes.
func (l UserLimits) Bytes(key string) (int64, bool) {
	v, ok := l.Fields[key]
	if !ok || isNull(v) {
		return 0, false
	}
	if n, ok := parseIntegral(v); ok {
		return n, true
	}
	var s string
	if json.Unmarshal(v, &s) != nil {
		return 0, false
	}
	n, err := ParseByteSize(s)
	return n, err == nil
}

// Int reads a numeric limit such as "concurrentInvocations".
func (l UserLimits) Int(key string) (int64, bool) {
	v, ok := l.Fields[key]
	if !ok {
		return 0, false
	}
	return parseIntegral(v)
}

// APIKey is authkey.api_key for basic-auth keys, "" otherwise.
func (i Identity) APIKey() string {
	var k struct {
		APIKey string `json:"api_key"`
	}
	_ = json.Unmarshal(i.AuthKey, &k)
	return k.APIKey
}
