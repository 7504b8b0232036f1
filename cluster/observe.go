package cluster

// Outcomes of a request this member forwarded to the leader, as
// Config.Forwarded is told them.
const (
	// ForwardAnswered: the leader's reply was relayed to the client.
	ForwardAnswered = "answered"
	// ForwardNoLeader: no leader was known; answered 11, not sent.
	ForwardNoLeader = "no_leader"
	// ForwardOverloaded: the leader could not queue it; answered 11.
	ForwardOverloaded = "overloaded"
	// ForwardTimeout: no reply within the request timeout; answered 0.
	ForwardTimeout = "timeout"
	// ForwardLeaderChanged: another member became the leader before the
	// reply came; answered 0.
	ForwardLeaderChanged = "leader_changed"
)

// forwarded tells Config.Forwarded of a forwarded request's outcome.
func (m *Member) forwarded(outcome string) {
	if m != nil && m.cfg.Forwarded != nil { // nil: a forwarder tested alone
		m.cfg.Forwarded(outcome)
	}
}
