// Package transport carries raft messages between the members of an offsets
// cluster. It defines what the raft loop sees of the network (Transport,
// Handler and SnapshotSink) and the one mapping between node names and raft
// IDs; the packages transport/tcp and transport/maelstrom implement it over
// TCP connections and over Maelstrom messages on stdout.
//
// Every implementation guarantees:
//
//   - Send never blocks the caller. Each message is queued for its peer in a
//     bounded queue; when the queue is full the message is dropped and
//     counted (Stats.Dropped). Raft retries what is lost, so dropping is
//     safe, and a blocked or dead peer cannot stall the raft loop or any
//     other peer.
//   - The transport reads a message after Send returns (it marshals it on
//     its own goroutine), so the caller must not modify a message, or the
//     entries it points to, once it has been handed over. Raft never does.
//   - A peer that cannot be reached is reported through
//     Handler.Unreachable, at most once until a message to it goes through
//     again, so the loop can call raft's ReportUnreachable.
//   - A snapshot is streamed in chunks from an io.Reader: the sender holds
//     one chunk at a time, the receiver hands each chunk to a SnapshotSink.
//     The last chunk carries the stream's length and CRC-32C; a stream that
//     is shortened, damaged or interrupted is aborted (SnapshotSink.Abort)
//     and never committed, and the receiver's MsgSnap is delivered to raft
//     only after SnapshotSink.Commit succeeded. The sender reports the
//     outcome through Handler.SnapshotStatus (nil: the receiver committed
//     it), so the loop can call ReportSnapshot with SnapshotFinish or
//     SnapshotFailure.
//   - Handler methods are called on the transport's goroutines (for the
//     Maelstrom transport, also on the goroutine that calls its
//     HandleMessage: the node's input reader), never on the goroutine that
//     calls Send or SendSnapshot, so a handler that hands its argument to
//     the raft loop over a channel cannot deadlock it.
//   - Close stops every goroutine the transport started and returns after
//     they have exited. It waits for handler calls in progress, so a
//     handler that blocks must also return when the loop stops (select on
//     the loop's done channel).
package transport

import (
	"errors"
	"fmt"
	"io"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// Errors reported by the transports. Each is wrapped with context; test
// with errors.Is.
var (
	// ErrClosed is returned by operations on a closed transport.
	ErrClosed = errors.New("transport: closed")
	// ErrUnknownPeer means a message is addressed to a raft ID that is not
	// a member.
	ErrUnknownPeer = errors.New("transport: unknown peer")
	// ErrFrameTooLarge means a peer announced a frame or message larger
	// than the limit; the connection is closed without reading it.
	ErrFrameTooLarge = errors.New("transport: frame too large")
	// ErrCorrupt means a frame or message failed its checksum or could not
	// be decoded.
	ErrCorrupt = errors.New("transport: corrupt frame")
	// ErrSnapshotTruncated means a snapshot stream ended, or was cut, before
	// its final chunk.
	ErrSnapshotTruncated = errors.New("transport: snapshot stream truncated")
	// ErrSnapshotChecksum means a snapshot's final chunk did not match the
	// length or CRC-32C of the bytes received.
	ErrSnapshotChecksum = errors.New("transport: snapshot checksum mismatch")
	// ErrSnapshotInProgress means a snapshot to the same peer is still
	// being sent; raft sends one at a time, so a second is refused.
	ErrSnapshotInProgress = errors.New("transport: a snapshot to this peer is already in progress")
	// ErrSnapshotRejected means the receiver could not store the snapshot
	// (its sink failed); the receiver's reason follows.
	ErrSnapshotRejected = errors.New("transport: snapshot rejected by the receiver")
	// ErrTimeout means a peer did not answer in time.
	ErrTimeout = errors.New("transport: timed out")
)

// Transport is what the raft loop uses to reach its peers.
type Transport interface {
	// Send queues each message for the peer named by its To field and
	// returns at once. Messages to an unknown peer or beyond a full queue
	// are dropped and counted. A MsgSnap given to Send travels as an
	// ordinary message, with its Snapshot.Data inline: use SendSnapshot for
	// a snapshot whose body is streamed.
	Send(msgs []*raftpb.Message)

	// SendSnapshot streams body to the peer named by m.To after m, a
	// MsgSnap whose Snapshot.Data describes the body (or is empty). It
	// returns at once; the stream runs on its own goroutine, reads body one
	// chunk at a time and closes it, and the outcome is reported through
	// Handler.SnapshotStatus(m.To, err).
	SendSnapshot(m *raftpb.Message, body io.ReadCloser)

	// Stats returns the transport's counters.
	Stats() Stats

	// Close stops the transport: it stops sending and receiving, aborts
	// snapshot streams in progress, and returns after all its goroutines
	// have exited. Queued messages are dropped.
	Close() error
}

// Handler receives what the transport gets from the network. Its methods
// are called on transport goroutines and may be called concurrently.
type Handler interface {
	// Receive is called with each message received from a peer. It may
	// block: the transport then stops reading from that peer (back-pressure
	// through the peer's bounded queue), and other peers carry on.
	Receive(m *raftpb.Message)

	// Unreachable is called when messages to the peer could not be sent
	// (connection failed, queue full).
	Unreachable(id uint64)

	// SnapshotStatus reports the outcome of SendSnapshot to peer id: nil
	// when the receiver has committed the whole snapshot, an error
	// otherwise (the receiver installed nothing).
	SnapshotStatus(id uint64, err error)

	// ReceiveSnapshot is called when a peer starts streaming a snapshot; m
	// is its MsgSnap. The returned sink gets the body's chunks in order,
	// then exactly one of Commit (after the whole stream was received and
	// its checksum verified) or Abort. Only after Commit returns nil is m
	// passed to Receive. An error refuses the snapshot.
	ReceiveSnapshot(m *raftpb.Message) (SnapshotSink, error)
}

// SnapshotSink stores an incoming snapshot's body. FileSink is one.
type SnapshotSink interface {
	// Write stores the next chunk of the body. The chunk is only valid
	// during the call.
	io.Writer
	// Commit is called once the whole body was written and verified; it
	// makes the snapshot durable. An error makes the transfer fail.
	Commit() error
	// Abort discards what was written. It is called when the stream fails
	// or the transport closes before the stream ended.
	Abort()
}

// Stats counts a transport's traffic since it started.
type Stats struct {
	// Sent counts messages written to the network.
	Sent uint64
	// Received counts messages received and delivered to the handler.
	Received uint64
	// Dropped counts messages not sent: queue full, unknown peer, or lost
	// with a failed connection.
	Dropped uint64
	// Unreachable counts Handler.Unreachable reports.
	Unreachable uint64
	// Refused counts incoming frames or messages refused as corrupt or too
	// large.
	Refused uint64
	// SnapshotsSent and SnapshotsFailed count outgoing snapshot streams by
	// outcome; SnapshotsReceived counts incoming streams committed.
	SnapshotsSent, SnapshotsFailed, SnapshotsReceived uint64
}

// SnapshotHead marshals the MsgSnap that heads a snapshot stream, refusing
// another type of message and one larger than max bytes (ErrFrameTooLarge):
// the checks both transports make before they stream a snapshot's body.
func SnapshotHead(m *raftpb.Message, max int) ([]byte, error) {
	if m.GetType() != raftpb.MsgSnap {
		return nil, fmt.Errorf("snapshot stream for a %s message", m.GetType())
	}
	head, err := proto.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("marshal snapshot message: %w", err)
	}
	if len(head) > max {
		return nil, fmt.Errorf("snapshot message of %d bytes: %w", len(head), ErrFrameTooLarge)
	}
	return head, nil
}
