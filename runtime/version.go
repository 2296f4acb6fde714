package outbox

import "runtime/debug"

// Version is the version of the outboxgen module built into this binary,
// as its build information records it: a tag such as "v1.4.0", "(devel)"
// for a build from a work tree, or "unknown".
func Version() string {
	const path = "github.com/outboxgen/outboxgen"
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	if bi.Main.Path == path {
		return bi.Main.Version
	}
	for _, d := range bi.Deps {
		if d.Path == path {
			if d.Replace != nil {
				return d.Version + " (replaced)"
			}
			return d.Version
		}
	}
	return "unknown"
}
