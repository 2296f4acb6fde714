package httpsender

import (
	"testing"

	"go.uber.org/goleak"
)

// Tests close their servers and the senders' idle connections in cleanup,
// so no goroutine needs to be ignored.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
