package spec

import (
	"slices"

	"go.yaml.in/yaml/v3"
)

// spec reads the top-level mapping. Defaults are read before metrics
// whatever their order in the file, since every metric inherits them.
func (w *walker) spec(root *yaml.Node) *Spec {
	s := &Spec{}
	top := w.object(root, root, scope{}, topKeys, "a mapping")
	if v := top.require("version", `add "version: 1" as the first line`); v != nil {
		s.Version = w.version(v)
	}
	if v := top.require("package", `add the Go package to generate, like "package: {name: metrics, path: internal/metrics}"`); v != nil {
		s.Package = w.pkg(top.key("package"), v)
	}
	if v := top.require("dialects", `add the databases to support, like "dialects: [sqlite, postgres]"`); v != nil {
		s.Dialects = w.dialects(v)
	}
	def := builtin()
	if v := top.get("defaults"); v != nil {
		def = w.defaults(top.key("defaults"), v)
	}
	s.BatchRoute = defaultRoute(def.routePrefix, "batch")
	if v := top.require("metrics", "add a mapping of metric names to metric definitions"); v != nil {
		s.Metrics = w.metrics(v, def)
		w.checkEventTypes()
	}
	return s
}

// formatVersion is the only version of the format there is.
const formatVersion = 1

// version checks the format version; there is only one to return.
func (w *walker) version(n *yaml.Node) int {
	if v, ok := numberValue(n); !ok || v != formatVersion {
		w.errorf(n, "version must be %d, the only version of the format, got %s%s", formatVersion, got(n), unquoteHint(n))
	}
	return formatVersion
}

// pkg reads the package mapping.
func (w *walker) pkg(key, n *yaml.Node) Package {
	s := scope{path: "package"}
	o := w.object(key, n, s, packageKeys, "a mapping like {name: metrics, path: internal/metrics}")
	p := Package{Pos: pos(key)}
	if v := o.require("name", `add the Go package name, like "name: metrics"`); v != nil {
		p.Name, _ = w.packageName(v, s.of("name"))
	}
	if v := o.require("path", `add the folder to write the code to, relative to this file, like "path: internal/metrics"`); v != nil {
		p.Path, _ = w.packagePath(v, s.of("path"))
	}
	if v := o.get("import_path"); v != nil {
		p.ImportPath, _ = w.importPath(v, s.of("import_path"))
	}
	return p
}

// dialects reads the list of databases, returned sorted so that output
// generated from it does not depend on the order they were listed in.
func (w *walker) dialects(n *yaml.Node) []Dialect {
	items, ok := w.list(n, "dialects", "[sqlite, postgres]")
	if !ok {
		return nil
	}
	if len(items) == 0 {
		w.errorf(n, "dialects is empty; list at least one of sqlite, postgres")
		return nil
	}
	var ds []Dialect
	first := map[Dialect]*yaml.Node{}
	for _, item := range items {
		d, ok := w.oneOf(item, "each dialect", strs(allDialects))
		if !ok {
			continue
		}
		if prev, dup := first[Dialect(d)]; dup {
			w.errorf(item, "dialect %q is listed twice (first on line %d); remove one", d, prev.Line)
			continue
		}
		first[Dialect(d)] = item
		ds = append(ds, Dialect(d))
	}
	slices.Sort(ds)
	return ds
}
