package sqlitestore

// FinishChunk exposes the size of Finish's next transaction to the tests.
func (s *Store) FinishChunk() int { return s.finishChunk() }
