package model

import "strings"

// initialisms are written in capitals in Go names, as Go style asks.
var initialisms = map[string]bool{
	"api": true, "ascii": true, "cpu": true, "css": true, "dns": true, "eof": true, "guid": true,
	"html": true, "http": true, "https": true, "id": true, "ip": true, "json": true, "qps": true,
	"ram": true, "rpc": true, "sla": true, "smtp": true, "sql": true, "ssh": true, "tcp": true,
	"tls": true, "ttl": true, "udp": true, "ui": true, "uid": true, "uri": true, "url": true,
	"utc": true, "utf8": true, "uuid": true, "xml": true,
}

// GoName turns a snake_case identifier into an exported Go name:
// "heart_rate" → "HeartRate", "device_id" → "DeviceID".
func GoName(snake string) string {
	var b strings.Builder
	for _, part := range strings.Split(snake, "_") {
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
