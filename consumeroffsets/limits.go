package consumeroffsets

import (
	"errors"
	"fmt"
)

// ErrLimit reports that a change would take the store past one of its
// limits (Options.MaxKeys, MaxGroups, MaxNameBytes). Nothing of the change
// was staged. The error is a *LimitError, which names the limit.
var ErrLimit = errors.New("consumeroffsets: limit reached")

// Defaults for the limits in Options. They are generous: they exist so that
// a client cannot grow the node's memory without bound, not to shape
// normal use.
const (
	DefaultMaxKeys   = 10_000_000
	DefaultMaxGroups = 1_000_000
	// DefaultMaxNameBytes applies to group and topic names. Kafka caps topic
	// names at 249 characters but not group ids (its protocol carries up to
	// 32767 bytes), so the default is well above 249: a group id that Kafka
	// accepts in practice is accepted here too.
	DefaultMaxNameBytes = 1024
)

// Limit names one of the store's limits.
type Limit string

// The limits a LimitError can name, spelled as the node's flags.
const (
	LimitKeys      Limit = "max-keys"
	LimitGroups    Limit = "max-groups"
	LimitNameBytes Limit = "max-name-bytes"
)

// LimitError is the error a change past a limit gets. It wraps ErrLimit.
type LimitError struct {
	Limit Limit
	Max   int    // the limit's value
	Field string // for LimitNameBytes: "group" or "topic"
	Have  int    // for LimitKeys and LimitGroups: how many the store holds, staged changes included
	Add   int    // for LimitKeys and LimitGroups: how many the change would add
}

func (e *LimitError) Error() string {
	switch e.Limit {
	case LimitNameBytes:
		return fmt.Sprintf("%v: %s name longer than %s (%d bytes)", ErrLimit, e.Field, e.Limit, e.Max)
	case LimitGroups:
		return fmt.Sprintf("%v: a new group beyond the %d held would pass %s (%d)", ErrLimit, e.Have, e.Limit, e.Max)
	default:
		return fmt.Sprintf("%v: %d new offset key(s) beyond the %d held would pass %s (%d)", ErrLimit, e.Add, e.Have, e.Limit, e.Max)
	}
}

func (e *LimitError) Unwrap() error { return ErrLimit }

// Key names one offset of a group, for CheckCommit.
type Key struct {
	Topic     []byte
	Partition int32
}

// CheckCommit returns a *LimitError when committing the keys (duplicates
// allowed) to group, creating the group if it does not exist, would pass a
// limit; nil when it fits. Staged changes count, so two requests of one
// batch cannot cross a limit together. It stages nothing: callers that
// must apply a request all or nothing check it whole first, then Commit.
//
// Limits are checked against the store's state, which after a restart is
// the replayed log: a store that holds more than a lowered limit keeps
// serving reads, updates and deletes of what it holds, and refuses what
// would add a key or a group.
func (s *Store) CheckCommit(group []byte, keys []Key) error {
	if err := s.checkName("group", group); err != nil {
		return err
	}
	for _, k := range keys {
		if err := s.checkName("topic", k.Topic); err != nil {
			return err
		}
	}
	// The lookups run only near a limit: below it, the counts alone tell.
	if s.st.c.groups >= s.maxGroups() && s.st.group(group) == nil {
		return &LimitError{Limit: LimitGroups, Max: s.maxGroups(), Have: s.st.c.groups, Add: 1}
	}
	max := s.maxKeys()
	if s.st.c.keys+len(keys) <= max {
		return nil // even if every key were new
	}
	// Near the limit: count the keys that are new, each once.
	type key struct {
		topic     string
		partition int32
	}
	fresh := 0
	seen := make(map[key]struct{}, len(keys))
	for _, k := range keys {
		if _, ok := s.st.get(group, k.Topic, k.Partition); ok {
			continue
		}
		sk := key{string(k.Topic), k.Partition}
		if _, dup := seen[sk]; dup {
			continue
		}
		seen[sk] = struct{}{}
		fresh++
	}
	if fresh > 0 && s.st.c.keys+fresh > max {
		return &LimitError{Limit: LimitKeys, Max: max, Have: s.st.c.keys, Add: fresh}
	}
	return nil
}

// checkCommit is the check Commit makes of its one key: CheckCommit's rule
// without a slice.
func (s *Store) checkCommit(group, topic []byte, partition int32) error {
	if len(group) > s.maxNameBytes() || len(topic) > s.maxNameBytes() || s.st.c.keys >= s.maxKeys() ||
		s.st.c.groups >= s.maxGroups() {
		return s.CheckCommit(group, []Key{{Topic: topic, Partition: partition}})
	}
	return nil
}

// checkGroup is the check SetGeneration makes: the group may be new.
func (s *Store) checkGroup(group []byte) error {
	if len(group) > s.maxNameBytes() || s.st.c.groups >= s.maxGroups() {
		return s.CheckCommit(group, nil)
	}
	return nil
}

func (s *Store) checkName(field string, name []byte) error {
	if len(name) > s.maxNameBytes() {
		return &LimitError{Limit: LimitNameBytes, Max: s.maxNameBytes(), Field: field}
	}
	return nil
}

func (s *Store) maxKeys() int      { return s.opts.MaxKeys }
func (s *Store) maxGroups() int    { return s.opts.MaxGroups }
func (s *Store) maxNameBytes() int { return s.opts.MaxNameBytes }

// warnOverLimits logs when the replayed state already holds more than a
// limit allows (the node was restarted with a lower one).
func (s *Store) warnOverLimits() {
	if s.st.c.keys > s.maxKeys() {
		s.logger.Warn("the log holds more offset keys than the limit: new keys are refused until offsets are deleted or expire",
			"keys", s.st.c.keys, "limit", s.maxKeys())
	}
	if s.st.c.groups > s.maxGroups() {
		s.logger.Warn("the log holds more groups than the limit: new groups are refused until groups are deleted",
			"groups", s.st.c.groups, "limit", s.maxGroups())
	}
}
