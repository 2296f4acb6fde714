//go:build unix

package spec

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestLoadReadsAtMostLimit feeds Load a pipe that has sent one byte more
// than MaxFileBytes and then stays open. A Load that read on to the end of
// the input would block forever; one that stops at the limit returns.
func TestLoadReadsAtMostLimit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metrics.yaml")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skipf("no named pipes here: %v", err)
	}
	writerDone := make(chan struct{})
	release := make(chan struct{})
	go func() {
		defer close(writerDone)
		w, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			t.Error(err)
			return
		}
		defer w.Close()
		if _, err := w.Write(bytes.Repeat([]byte("#"), MaxFileBytes+1)); err != nil {
			t.Error(err)
			return
		}
		<-release // keep the pipe open: no EOF until the test is over
	}()
	loaded := make(chan error, 1)
	go func() {
		_, err := Load(path)
		loaded <- err
	}()
	select {
	case err := <-loaded:
		if err == nil || !strings.Contains(err.Error(), "larger than") {
			t.Errorf("got %v, want the size error", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("Load kept reading past MaxFileBytes+1 bytes")
	}
	close(release)
	<-writerDone
}
