package api

import (
	"encoding/json"
	"testing"
)

var benchTransitionBody = []byte(`{"trigger":"assign","lead_unit":"fuliang","cooperating_units":["city-water"],"deadline":"2021-12-31","requirements":"拆除采砂设备，恢复河道"}`)

// BenchmarkCheckJSON is the cost checkJSON adds to a transition body,
// beside BenchmarkUnmarshalTransition, what decoding it costs anyway.
func BenchmarkCheckJSON(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if err := checkJSON(benchTransitionBody); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnmarshalTransition(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(benchTransitionBody, &m); err != nil {
			b.Fatal(err)
		}
	}
}
