"""fraudstream.v1: generated protobuf messages and gRPC stubs (make generate; do not edit)."""
