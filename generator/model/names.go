package model

import (
	"maps"
	"slices"
	"strings"
)

// initialisms are written in capitals in Go names, as Go style asks: the
// list golint knows (lint.commonInitialisms).
var initialisms = map[string]bool{
	"acl": true, "api": true, "ascii": true, "cpu": true, "css": true, "dns": true, "eof": true,
	"guid": true, "html": true, "http": true, "https": true, "id": true, "ip": true, "json": true,
	"lhs": true, "qps": true, "ram": true, "rhs": true, "rpc": true, "sla": true, "smtp": true,
	"sql": true, "ssh": true, "tcp": true, "tls": true, "ttl": true, "udp": true, "ui": true,
	"uid": true, "uuid": true, "uri": true, "url": true, "utf8": true, "vm": true, "xml": true,
	"xmpp": true, "xsrf": true, "xss": true,
}

// Initialisms lists the words GoName writes in capitals, sorted.
func Initialisms() []string { return slices.Sorted(maps.Keys(initialisms)) }

// GoName turns a snake_case identifier into an exported Go name:
// "heart_rate" → "HeartRate", "device_id" → "DeviceID". It is the only
// place that does: sqlc is told every name it makes this way (see
// SQLCNames), so the model and the queries agree on every initialism.
func GoName(snake string) string {
	var b strings.Builder
	for part := range strings.SplitSeq(snake, "_") {
		if part == "" {
			continue
		}
		if initialisms[part] {
			b.WriteString(strings.ToUpper(part))
			continue
		}
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

// lowerGoName is GoName with its first word in lower case, for unexported
// identifiers: "heart_rate" → "heartRate", "id_card" → "idCard".
func lowerGoName(snake string) string {
	first, rest, _ := strings.Cut(snake, "_")
	if rest == "" {
		return first
	}
	return first + GoName(rest)
}

// lowerFirst lower-cases the first letter of an exported name, as sqlc
// names a query's SQL constant: "SaveWeight" → "saveWeight".
func lowerFirst(name string) string {
	if name == "" {
		return name
	}
	return strings.ToLower(name[:1]) + name[1:]
}
