package lifecycle

import (
	"fmt"
	"strconv"

	"github.com/nemo-edge/nemo/invoker/wire"
)

// ActionKind is what the driver must do.
type ActionKind int

// Actions, in the order the machine emits them for one event; the driver executes them in that order.
const (
	// ActCreate: start a container for Binding (Containers.Create); answer Started or StartFailed.
	ActCreate ActionKind = iota + 1
	// ActStartClient: create the container's Puller towards Binding.Scheduler; answer ClientReady or ClientFailed.
	ActStartClient
	// ActRegisterExisting / ActUnregisterExisting: put / delete the existing-container key.
	ActRegisterExisting
	ActUnregisterExisting
	// ActRegisterWarmed / ActUnregisterWarmed: put / delete the warmed-container key.
	ActRegisterWarmed
	ActUnregisterWarmed
	// ActAck: send the creation ack of Creation (Error "" = success) to creationAck<sid>.
	ActAck
	// ActPull: start the container's pull loop(s) (Binding.Concurrency of them).
	ActPull
	// ActContinue: the answer to Idle: keep pulling.
	ActContinue
	// ActDrain: serve what is still queued, then stop pulling (the next Idle answers with removal).
	ActDrain
	// ActPause: stop the container's other pull loops (concurrency > 1), freeze it; answer PauseDone or
	// PauseFailed.
	ActPause
	// ActResume: thaw it; answer ResumeDone or ResumeFailed.
	ActResume
	// ActRedirect: point the Puller at Binding.Scheduler (a resumed container's new creation).
	ActRedirect
	// ActCountLive: read the live container count of Binding and the namespace's keeping limit; answer
	// LiveCount or LiveCountFailed.
	ActCountLive
	// ActRemove: close the Puller (goodbye fetch) and destroy the container; answer Removed.
	ActRemove
	// ActHealthFailure: count a failure in the invoker's health ring (client creation or resume failed).
	ActHealthFailure
)

var actionNames = map[ActionKind]string{
	ActCreate: "create", ActStartClient: "start-client", ActRegisterExisting: "register-existing",
	ActUnregisterExisting: "unregister-existing", ActRegisterWarmed: "register-warmed", ActUnregisterWarmed: "unregister-warmed",
	ActAck: "ack", ActPull: "pull", ActContinue: "continue", ActDrain: "drain", ActPause: "pause", ActResume: "resume",
	ActRedirect: "redirect", ActCountLive: "count-live", ActRemove: "remove", ActHealthFailure: "health-failure",
}

// Action is one instruction for the driver.
type Action struct {
	Kind      ActionKind
	C         ContainerID
	Binding   Binding                        // the container's binding, when it has one
	Creation  *wire.ContainerCreationMessage // ActAck (and ActCreate/ActStartClient: the creation served)
	Error     wire.CreationError             // ActAck: "" for success
	Reason    string                         // ActAck
	MemoryMB  int                            // ActCreate
	RuntimeID string                         // informational
}

func (a Action) String() string {
	name := actionNames[a.Kind]
	switch a.Kind {
	case ActAck:
		s := name + " " + a.Creation.CreationID[:8]
		if a.Error == "" {
			return s + " ok"
		}
		return s + " " + string(a.Error) + " " + strconv.Quote(a.Reason)
	case ActCreate:
		return fmt.Sprintf("%s %s %s %s %s", name, a.C, bindingName(a.Binding), a.Binding.Kind, mb(a.Binding.MemoryMB))
	case ActStartClient, ActRedirect:
		return fmt.Sprintf("%s %s %s", name, a.C, a.Binding.Scheduler)
	case ActRegisterExisting, ActUnregisterExisting, ActRegisterWarmed, ActUnregisterWarmed, ActCountLive:
		return fmt.Sprintf("%s %s %s", name, a.C, bindingName(a.Binding))
	case ActPull:
		return fmt.Sprintf("%s %s x%d", name, a.C, max(a.Binding.Concurrency, 1))
	}
	return name + " " + string(a.C)
}

func bindingName(b Binding) string {
	rev := b.Revision
	if rev == "" {
		rev = "null"
	}
	return b.InvocationNamespace + ":" + b.Action.DocID() + "@" + rev
}
