package transport

import (
	"errors"
	"fmt"
	"strconv"
)

// ErrBadName means a node name is not of the form "n" followed by a decimal
// number.
var ErrBadName = errors.New(`transport: node name must be "n" followed by a decimal number (n0, n1, ...)`)

// NodeID returns the raft ID of the node called name. Names are Maelstrom's,
// "n" and a decimal number K without leading zeros, and the ID is K+1: raft
// reserves ID 0 for "none", and Maelstrom numbers its nodes from n0. The ID
// depends on the name alone, not on its place in a list, so every member
// computes the same IDs whatever order its configuration lists them in, and
// the IDs in a persisted raft state (votes, configurations) keep naming the
// same nodes.
func NodeID(name string) (uint64, error) {
	if len(name) < 2 || name[0] != 'n' || (name[1] == '0' && len(name) > 2) {
		return 0, fmt.Errorf("%q: %w", name, ErrBadName)
	}
	for _, c := range name[1:] {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%q: %w", name, ErrBadName)
		}
	}
	k, err := strconv.ParseUint(name[1:], 10, 64)
	if err != nil || k == 1<<64-1 {
		return 0, fmt.Errorf("%q: %w", name, ErrBadName)
	}
	return k + 1, nil
}

// NodeName returns the name of the node with raft ID id, the inverse of
// NodeID. ID 0 (raft's "none") has no name and gives "".
func NodeName(id uint64) string {
	if id == 0 {
		return ""
	}
	return "n" + strconv.FormatUint(id-1, 10)
}
