package httpsender

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

// TokenFile returns a source that reads the bearer token from the file at
// path, e.g. a mounted Kubernetes secret or a token that a sidecar renews.
// The file is read when first needed, again whenever its size or
// modification time changes, and again on refresh (after a 401), so a
// rotated token is used without a restart. Leading and trailing whitespace,
// such as a final newline, is not part of the token. Errors name the file,
// never its content.
func TokenFile(path string) TokenSource { return &tokenFile{path: path} }

type tokenFile struct {
	path string

	mu      sync.Mutex
	token   string
	size    int64
	modTime time.Time
}

func (f *tokenFile) Token(_ context.Context, refresh bool) (string, error) {
	info, err := os.Stat(f.path)
	if err != nil {
		return "", fmt.Errorf("token file %s: %w", f.path, errors.Unwrap(err))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !refresh && f.token != "" && info.Size() == f.size && info.ModTime().Equal(f.modTime) {
		return f.token, nil
	}
	b, err := os.ReadFile(f.path)
	if err != nil {
		return "", fmt.Errorf("read token file %s: %w", f.path, errors.Unwrap(err))
	}
	tok := strings.TrimSpace(string(b))
	if err := checkToken(tok); err != nil {
		return "", fmt.Errorf("token file %s: %w", f.path, err)
	}
	f.token, f.size, f.modTime = tok, info.Size(), info.ModTime()
	return tok, nil
}
