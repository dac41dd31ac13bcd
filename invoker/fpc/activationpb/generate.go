package activationpb

// The generated files are committed so that building and CI need no protoc. To regenerate (from this
// directory), with Debian's protobuf-compiler 3.21.12 and the two plugins at the versions the headers name:
//
//	go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
//	go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2
//
//go:generate protoc --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative activation.proto
