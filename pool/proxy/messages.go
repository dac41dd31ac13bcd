package proxy

import "fmt"

// OpenWhisk's user-visible texts of the failures a container can produce (ErrorResponse.scala, object
// Messages). Each doc comment says which status carries it.
const (
	// MsgAbnormalInit: /init connection error → developer error (whisk error when the invoker could not even
	// build the request).
	MsgAbnormalInit = "The action did not initialize and exited unexpectedly."
	// MsgAbnormalRun: /run connection error → developer error; unexpected invoker exception → whisk error.
	MsgAbnormalRun = "The action did not produce a valid response and exited unexpectedly."
	// MsgMemoryExhausted: the container was OOM-killed → developer error.
	MsgMemoryExhausted = "The action exhausted its memory and was aborted."
	// MsgProvisionFailed: no container could be provided (docker run failed, the engine is unreachable) →
	// whisk error.
	MsgProvisionFailed = "Failed to provision resources to run the action."
	// MsgLogCollectionIssue is appended (stderr) when log collection fails.
	MsgLogCollectionIssue = "There was an issue while collecting your logs. Data might be missing."
	// MsgLogsMissingDevError is appended (stderr) for developer errors, whose logs are read without sentinels.
	MsgLogsMissingDevError = "The action did not initialize or run as expected. Log data might be missing."
)

// MsgTimeout is the developer error of a run that reached the action timeout.
func MsgTimeout(timeoutMs int64) string {
	return fmt.Sprintf("The action exceeded its time limits of %d milliseconds.", timeoutMs)
}

// MsgInitTimeout is the developer error of an /init that reached the action timeout.
func MsgInitTimeout(timeoutMs int64) string {
	return fmt.Sprintf("The action exceeded its time limits of %d milliseconds during initialization.", timeoutMs)
}

// MsgInitFailed is the developer error of a non-200 /init whose body has no "error" member.
func MsgInitFailed(body string) string {
	if body == "" {
		return "The action failed during initialization."
	}
	return "The action failed during initialization: " + body
}

// MsgNotJSON is the developer error of a /run reply that is not a valid JSON object or array (the wording of
// OpenWhisk since 2021; MsgNotJSONLegacy is 1.0.0's).
func MsgNotJSON(body string) string {
	if body == "" {
		return "The action did not produce a valid JSON or JSON Array response."
	}
	return "The action did not produce a valid JSON or JSON Array response: " + body
}

// MsgTruncated is the error of a response longer than the allowed payload (application error for /run,
// developer error for /init).
func MsgTruncated(length, max int64, trunk string) string {
	return fmt.Sprintf("The action produced a response that exceeded the allowed length: %d > %d bytes. The truncated response was: %s",
		length, max, trunk)
}

// MsgLogsTruncated is appended (stderr) when the logs exceed limits.logs.
func MsgLogsTruncated(limitBytes int64) string {
	return fmt.Sprintf("Logs were truncated because the total bytes size exceeds the limit of %d bytes.", limitBytes)
}

// MsgImagePullFailed is the developer error when a latest/untagged blackbox image cannot be pulled.
func MsgImagePullFailed(image string) string {
	return fmt.Sprintf("Failed to pull container image '%s'.", image)
}

// MsgCommandNotFound is the developer error of docker run exiting 127.
func MsgCommandNotFound(image string) string {
	return "executable file not found in image " + image
}
