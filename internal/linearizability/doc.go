// Package linearizability records what clients saw of an offsets store
// (the single node or a cluster) and checks, with porcupine, that the
// history is linearizable: that some order of the operations, each placed
// at one instant between its invocation and its reply, explains every
// reply by the store's sequential rules (README, Protocol).
//
// A Recorder is shared by concurrent clients. A client calls Invoke just
// before it writes a request and Reply with the reply's body as soon as it
// has read it, or Unknown when no reply will come; Check then fails the
// test if the history is not linearizable, with the operations of the
// offending keys in the message and porcupine's HTML visualization in a
// file it names. With clustertest's Router or TCP, Recorder.Call does the
// recording:
//
//	rec := linearizability.NewRecorder()
//	// in client goroutine i, against any node:
//	o, err := rec.Call(ctx, cluster, i, src, "n2", linearizability.Commit("g", "t", 0, v))
//	// when the clients are done (an operation still waiting counts as Unknown):
//	linearizability.Check(t, rec)
//
// # Outcomes
//
// Each operation ends in one of three outcomes:
//
//   - OK: the reply was the request's _ok; its values (fetch_offset's
//     offset, the deletes' deleted count) must be explained by the model.
//   - Failed: an error the README defines as definite, nothing of the
//     request applied. The state is unchanged; a 22 (fenced) must also be
//     explained: the group held a higher generation at that instant.
//   - Unknown: no reply before the end of the test, or an error that does
//     not say whether the request was applied. Porcupine models such an
//     operation as one that has not returned: its return time is +infinity
//     (math.MaxInt64), so the checker may place its effect anywhere after
//     its invocation, including after every other operation (the write
//     never happened, as far as anyone saw).
//
// Error codes (Maelstrom's, as the README uses them):
//
//	 0 timeout                    Unknown: the cluster answers 0 when a request's
//	                              outcome is not known after --request-timeout
//	 1 node-not-found             Failed
//	10 not-supported              Failed
//	11 temporarily-unavailable    Failed: the README's "definitely not applied"
//	12 malformed-request          Failed
//	13 crash                      Unknown: the README's error 13 means nothing
//	                              of the batch was applied in memory, but
//	                              after a failed fsync the entry may be on
//	                              disk and come back at a restart, so the
//	                              checker does not hold the node to it
//	14 abort                      Failed: a limit was reached, nothing applied
//	20-21                         Failed (Maelstrom's definite key errors)
//	22 precondition-failed        Failed, and checked: only a commit with a
//	                              generation lower than the group's is fenced
//	23 txn-conflict               Failed
//	any other code                Unknown (Maelstrom treats unknown codes as
//	                              indefinite)
//	-1 (Recorder.Call)            Failed: the request was never written, the
//	                              node was down (clustertest.ErrStopped)
//
// A reply that is neither the request's _ok nor an error (a wrong type, a
// fetch_offset_ok without an offset) is a protocol bug: Reply returns an
// error for the test to report and records the operation as Unknown, so
// the rest of the history is still checked.
//
// # The model
//
// The state is a map from key (group, topic, partition) to offset, plus
// each group's generation. A key never committed, or deleted, is absent
// and fetch_offset answers 0 for it, as the node does; a key committed
// with offset 0 is present (it counts in a delete's deleted). The rules
// are the node's: commit_offset writes one key; commit_offsets writes all
// its entries atomically (a later duplicate in the list wins);
// delete_offsets removes the named partitions of a topic, or all of them,
// and answers how many were present; delete_group removes every key of
// the group and its generation. A commit with a generation is fenced (22)
// when the group holds a higher one, otherwise it sets the group's
// generation to its own; a commit without one is never fenced. Metadata is
// not modelled (fetch_offset does not return it), nor are fetch_offsets
// and list_groups (Invoke refuses them; read them outside the history).
//
// The history must start from an empty store: a key the history never
// writes is taken to be absent. Retention expiry is not modelled: run the
// nodes with --offsets-retention 0 or one longer than the test.
//
// # Partitioning
//
// Porcupine's search is exponential in the worst case, so the history is
// cut into independent parts (porcupine's Partition) that are checked
// apart: the parts are the connected pieces of the graph whose nodes are
// keys and groups' generations and in which an operation joins everything
// it touches. A history of commit_offset and fetch_offset without
// generations is checked as one register per key, the issue's "a register
// per key"; a commit_offsets over several keys joins them, so a read that
// sees half of a batch is caught; a delete_offsets of a whole topic joins
// every key of the topic the history names, and a delete_group every key
// of the group and its generation. Tests stay fast when their operations
// spread over many keys and the multi-key operations over a few of them.
//
// Before the search, operations that cannot change the verdict are left
// out (Result.Pruned): unknown reads, definite refusals other than 22, and
// unknown writes without a generation whose values no read returned and
// whose keys no delete touches. Such a write could otherwise be placed
// after any later operation, and rejecting a history would cost 2^n in
// them: measured with 10 on one key, 2.8 s; with 14, undecided after 20 s;
// left out, 30 of them cost under a millisecond. Use unique values per
// write, so that a read names the write it saw.
package linearizability
