package inbox

import "sync"

// inflight is the set of idempotency keys this process is working on: a
// repeat that arrives meanwhile is answered 409 at once, before it takes a
// connection. Across processes, the store's Claim does the same.
type inflight struct {
	mu   sync.Mutex
	keys map[string]struct{}
}

// acquire adds key to the set, or reports false if it is there already.
func (f *inflight) acquire(key string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, busy := f.keys[key]; busy {
		return false
	}
	f.keys[key] = struct{}{}
	return true
}

// release removes key from the set.
func (f *inflight) release(key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.keys, key)
}
