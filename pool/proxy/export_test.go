package proxy

// MsgNotJSONLegacy is the 1.0.0 wording of MsgNotJSON.
func MsgNotJSONLegacy(body string) string {
	if body == "" {
		return "The action did not produce a valid JSON response."
	}
	return "The action did not produce a valid JSON response: " + body
}
