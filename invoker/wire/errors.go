package wire

import "errors"

// Sentinel errors. Every error returned by this package wraps exactly one of them, so callers branch with
// errors.Is and never on message text.
var (
	// ErrMalformed: the bytes are not valid JSON, a field has the wrong type, or a required field is missing.
	// For action documents this is OpenWhisk's DocumentUnreadable ("Action version is not compatible…").
	ErrMalformed = errors.New("wire: malformed message")
	// ErrInvalidActivationID: an activation id is not 32 lowercase hex characters.
	ErrInvalidActivationID = errors.New("wire: invalid activation id")
	// ErrNotAction: a whisks document whose entityType is present and is not "action"
	// (OpenWhisk's DocumentTypeMismatchException → "Action version is not compatible…").
	ErrNotAction = errors.New("wire: document is not an action")
	// ErrNotExecutable: a sequence action; the controller runs those, an invoker answers "Action could not be fetched.".
	ErrNotExecutable = errors.New("wire: action is not executable by an invoker")
	// ErrUnknownKind: a kind the runtimes manifest does not list ("Action version is not compatible…").
	ErrUnknownKind = errors.New("wire: unknown runtime kind")
	// ErrInvalidManifest: the runtimes manifest breaks one of its rules (one default per family, stem cell ranges…).
	ErrInvalidManifest = errors.New("wire: invalid runtimes manifest")
)
