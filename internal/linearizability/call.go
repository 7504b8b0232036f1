package linearizability

import (
	"context"
	"errors"

	"github.com/maelstrom-offsets/offsets/internal/clustertest"
)

// Caller is the request side of clustertest's Router and TCP: Call writes
// a request to dest's stdin and returns the reply addressed to src.
type Caller interface {
	Call(ctx context.Context, src, dest string, body map[string]any) (clustertest.Message, error)
}

// Call sends q from client src to node dest through c and records it as
// client's operation: invoked before the request is queued, returned when
// the reply is taken. A request refused with clustertest.ErrStopped was
// never written (the node was down) and is recorded as Failed (Code -1);
// any other error from c (no reply before ctx ended) leaves the outcome
// Unknown. It returns the outcome, and the error from c or from Reply.
func (r *Recorder) Call(ctx context.Context, c Caller, client int, src, dest string, q Request) (Outcome, error) {
	op := r.Invoke(client, q)
	m, err := c.Call(ctx, src, dest, q.Body())
	switch {
	case errors.Is(err, clustertest.ErrStopped):
		op.finish(r.now(), Outcome{Kind: Failed, Code: -1, Text: err.Error()})
	case err != nil:
		op.Unknown()
	default:
		err = op.Reply(m.Body)
	}
	return op.Outcome(), err
}
