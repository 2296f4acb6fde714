package cli

import (
	"encoding/json"
	"flag"
	"fmt"
	"runtime/debug"
)

// BuildInfo is what a binary knows of its own build.
type BuildInfo struct {
	Module    string `json:"module"`
	Version   string `json:"version"`            // the module version, or "(devel)" for a build from a work tree
	Revision  string `json:"revision,omitempty"` // the VCS revision, when built from a repository
	Time      string `json:"time,omitempty"`     // the revision's commit time
	Modified  bool   `json:"modified"`           // the work tree had uncommitted changes
	GoVersion string `json:"go_version"`
}

// ReadBuildInfo returns the running binary's build information.
func ReadBuildInfo() BuildInfo {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return BuildInfo{Version: "unknown"}
	}
	info := BuildInfo{Module: bi.Main.Path, Version: bi.Main.Version, GoVersion: bi.GoVersion}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Revision = s.Value
		case "vcs.time":
			info.Time = s.Value
		case "vcs.modified":
			info.Modified = s.Value == "true"
		}
	}
	return info
}

func (b BuildInfo) String() string {
	s := b.Version
	if b.Revision != "" {
		s += ", revision " + b.Revision
		if b.Time != "" {
			s += " of " + b.Time
		}
		if b.Modified {
			s += " with uncommitted changes"
		}
	}
	return fmt.Sprintf("%s %s (%s)", b.Module, s, b.GoVersion)
}

// VersionCommand is the "version" verb: the module version and VCS
// revision the binary was built from.
func VersionCommand() Command {
	return Command{
		Name:    "version",
		Summary: "print the module version and VCS revision this binary was built from",
		Usage:   "[--json]",
		Example: "version --json",
		Setup: func(fs *flag.FlagSet) Action {
			asJSON := fs.Bool("json", false, "print JSON, for machines")
			return func(e *Env, args []string) error {
				if len(args) > 0 {
					return Usagef("takes no arguments, got %q", args[0])
				}
				info := ReadBuildInfo()
				if *asJSON {
					return json.NewEncoder(e.Stdout).Encode(info)
				}
				_, err := fmt.Fprintf(e.Stdout, "%s %s\n", e.Program, info)
				return err
			}
		},
	}
}
