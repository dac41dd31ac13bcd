// Package activationpb holds the messages and the client and server stubs of the scheduler's
// activation.ActivationService, generated from activation.proto (see generate.go for the exact command and
// tool versions). Field numbers, names and the package "activation" are the wire contract: method paths are
// /activation.ActivationService/FetchActivation and /activation.ActivationService/RescheduleActivation.
//
// It owns only generated code and the contract; it must not grow logic. The JSON carried in the string fields
// is built and read by invoker/wire (FQNText, RevisionText, ParseFetchResponse).
package activationpb
