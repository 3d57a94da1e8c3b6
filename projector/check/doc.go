// Package check is the pure state machine of one check: Apply folds an event into the
// state and returns the effects (recorded pings, flips), and StatusAt computes the status
// Healthchecks would show at a given time.
//
// It performs no I/O, never reads the wall clock and imports only the standard library and
// schemas, so that replaying the log always gives the same states and effects.
package check
