package store

import (
	"errors"

	"github.com/nemo-edge/nemo/invoker/wire"
	"github.com/nemo-edge/nemo/pool/proxy"
)

// FetchErrorResponse is the activation response OpenWhisk records when GetAction fails
// (InvokerReactive.handleActivationMessage, PROTOCOL.md §3 "Fetch and admission"):
//   - ErrNotFound → application error "Action could not be found or may have been deleted.";
//   - ErrUnreadable → whisk error "Action version is not compatible and cannot be invoked.";
//   - anything else (ErrNotFetchable, ErrUnavailable, ...) → whisk error "Action could not be fetched.".
func FetchErrorResponse(err error) proxy.Response {
	switch {
	case errors.Is(err, ErrNotFound):
		return proxy.ErrorResponse(proxy.StatusApplicationError, wire.MsgActionNotFound)
	case errors.Is(err, ErrUnreadable):
		return proxy.ErrorResponse(proxy.StatusWhiskError, wire.MsgVersionIncompatible)
	default:
		return proxy.ErrorResponse(proxy.StatusWhiskError, wire.MsgActionNotFetched)
	}
}
