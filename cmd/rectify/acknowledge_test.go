package main

import "maps"

// acknowledgeAll returns verify's body for the problem at path with every
// flag the evidence checks raised acknowledged (the tests' drawn photos
// carry no EXIF), as an inspector does after looking at them.
func acknowledgeAll(c *client, path string, body map[string]any) map[string]any {
	if body["trigger"] != "verify" {
		return body
	}
	var p struct {
		Unacknowledged []map[string]string `json:"unacknowledged_flags"`
	}
	c.do("GET", path, nil, 200, &p)
	if len(p.Unacknowledged) == 0 {
		return body
	}
	out := maps.Clone(body)
	out["acknowledged_flags"] = p.Unacknowledged
	out["acknowledgement_note"] = "照片为转存，已现场核实"
	return out
}
