package wire

// OpenWhisk's user-visible texts of failures found before any container is involved (ErrorResponse.scala, object
// Messages); the texts of container failures are in pool/proxy. They end up in activation results
// and logs that users and tools match on, so they must not change.
const (
	// MsgActionNotFound: fetch got NoDocumentException → application error.
	MsgActionNotFound = "Action could not be found or may have been deleted."
	// MsgVersionIncompatible: DocumentTypeMismatch / DocumentUnreadable (ErrNotAction, ErrMalformed,
	// ErrUnknownKind) → whisk error.
	MsgVersionIncompatible = "Action version is not compatible and cannot be invoked."
	// MsgActionNotFetched: any other fetch failure, including a sequence (ErrNotExecutable) → whisk error.
	MsgActionNotFetched = "Action could not be fetched."
	// MsgBlacklisted: namespace in the blocked list → application error, not stored.
	MsgBlacklisted = "The action was not invoked due to a blacklisted namespace."
)
