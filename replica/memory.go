package replica

import (
	"go.etcd.io/raft/v3"
)

// MemoryStorage adapts raft's in-memory storage to Storage, for tests and
// for members that keep nothing across restarts.
type MemoryStorage struct {
	*raft.MemoryStorage
}

// NewMemoryStorage returns an empty MemoryStorage.
func NewMemoryStorage() MemoryStorage { return MemoryStorage{raft.NewMemoryStorage()} }

// Save applies rd's snapshot, entries and HardState, in that order.
func (m MemoryStorage) Save(rd raft.Ready) error {
	if !raft.IsEmptySnap(rd.Snapshot) {
		if err := m.ApplySnapshot(rd.Snapshot); err != nil {
			return err
		}
	}
	if len(rd.Entries) > 0 {
		if err := m.Append(rd.Entries); err != nil {
			return err
		}
	}
	if !raft.IsEmptyHardState(rd.HardState) {
		if err := m.SetHardState(rd.HardState); err != nil {
			return err
		}
	}
	return nil
}
