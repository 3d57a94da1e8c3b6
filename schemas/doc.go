// Package schemas is the wire contract between hcstream's roles: the event envelope, the
// closed set of event bodies, and their versioned binary encodings with upcasting to the
// latest in-memory types.
//
// It imports only the standard library and performs no I/O beyond reading crypto/rand for
// new IDs: adapters (Kafka records, ClickHouse rows) live in subpackages and in the roles.
package schemas
