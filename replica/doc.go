// Package replica runs one member of a replicated offsets cluster: the
// loop around an etcd raft RawNode (go.etcd.io/raft/v3) that persists,
// sends and applies, and the bookkeeping that turns raft's fire-and-forget
// proposals into exact outcomes for the requests that made them.
//
// # The loop
//
// One goroutine owns the RawNode. Each turn it waits for an input (a tick,
// a message from a peer, a transport report, or queued proposals and
// reads), takes every other input already waiting (peer messages and
// reports first, proposals last), and then handles each Ready in the order
// the raft README prescribes:
//
//  1. Storage.Save(rd): the snapshot, the entries and the HardState, with
//     one fsync for all of them when rd.MustSync (group commit: every
//     proposal and every follower append of the turn share it);
//  2. send rd.Messages, only after they are durable (a MsgSnap whose body
//     the Storage streams goes through Transport.SendSnapshot);
//  3. restore rd.Snapshot into the state machine, apply
//     rd.CommittedEntries through StateMachine.Apply, resolve the
//     proposals and reads those entries decide;
//  4. Advance.
//
// Raft is configured with CheckQuorum and PreVote (a leader cut off from a
// majority steps down after an election timeout, and a rejoining member
// cannot disrupt a healthy leader), ReadOnlySafe (reads are confirmed by a
// heartbeat round, not by a clock lease), DisableProposalForwarding (a
// follower never proposes: entries carry the leader's decisions, so
// requests are forwarded whole to the leader above this package), and
// Config.Applied from the caller on restart, so entries already applied
// are not handed back. Membership is fixed: the voters of Config.Peers are
// reported to raft as the ConfState of a Storage that has none yet, so no
// configuration entries are ever written.
//
// # Proposals
//
// Propose queues data (one sealed record batch) and returns an Op at once;
// the loop proposes it right before the next Ready, so the entries raft
// appends in that Ready are exactly the proposals of the turn, in order,
// and each Op learns its (index, term). Its outcome is then decided by what
// commits at that index, never guessed:
//
//   - the committed entry at its index has its term: it is this Op's entry,
//     Apply has returned for it, and Err is nil;
//   - another entry committed at its index (a new leader replaced it), or
//     it never left this member (not the leader, not yet ready, dropped by
//     raft): Err wraps ErrNotApplied, and the entry can never be applied;
//   - neither within Config.RequestTimeout (the leader lost its quorum, the
//     entry is stuck on a minority, a snapshot covered its index): Err is
//     ErrTimeout, the outcome is unknown.
//
// Losing leadership does not decide an outcome by itself: an entry the old
// leader had replicated to a majority may still be committed by the next.
// By raft's log matching, when an entry of term T is replaced at index i,
// every entry of term T after i is replaced too, so the outcomes of one
// leader's proposals are a committed prefix and a failed suffix.
//
// ProposeAfter(base, data) proposes only when the last entry of the
// member's log is at base, so that the entry lands at base+1: a caller
// that staged data against its state machine applied through base knows
// that no entry it has not applied comes between. The loop handles every
// Ready before it proposes, so the log it compares against holds every
// entry raft has. Every committed normal entry is handed to Apply,
// including the empty one a new leader appends, so the applied index the
// state machine keeps is the log's.
//
// A new leader accepts no proposal until it has applied the first entry of
// its own term (the empty entry raft appends on election), so that the
// state a proposal is staged against holds every committed entry before
// it. Until then Propose fails with ErrNotLeader.
//
// # Reads
//
// ReadIndex returns an Op that resolves once this member has applied at
// least the read index raft confirmed with a quorum of heartbeats
// (ReadOnlySafe); the state machine then reflects every write acknowledged
// before the read began. A read is answered with ErrNotApplied when this
// member loses leadership before raft confirmed it, and ErrTimeout when
// nothing is confirmed in time.
//
// # Application messages
//
// SendApp carries the application's own messages to a peer over the same
// transport (a follower forwards client requests to the leader with it);
// the peer's Config.OnApp receives them, and raft never sees them.
package replica
