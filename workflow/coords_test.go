package workflow_test

import (
	"errors"
	"math"
	"testing"

	"github.com/jdz-eco/rectify/workflow"
)

// Published pairs of WGS-84 and GCJ-02 coordinates: the test suite of the
// eviltransform project (Shanghai, Shenzhen, Beijing) and the example of the
// coordtransform project (Beijing, Tiananmen).
var gcjReference = []struct {
	name     string
	wgs, gcj workflow.LatLng
}{
	{"shanghai (eviltransform)", workflow.LatLng{Lat: 31.1774276, Lng: 121.5272106}, workflow.LatLng{Lat: 31.17530398364597, Lng: 121.531541859215}},
	{"shenzhen (eviltransform)", workflow.LatLng{Lat: 22.543847, Lng: 113.912316}, workflow.LatLng{Lat: 22.540796131694766, Lng: 113.9171764808363}},
	{"beijing (eviltransform)", workflow.LatLng{Lat: 39.911954, Lng: 116.377817}, workflow.LatLng{Lat: 39.91334545536069, Lng: 116.38404722455657}},
	{"beijing (coordtransform)", workflow.LatLng{Lat: 39.915, Lng: 116.404}, workflow.LatLng{Lat: 39.91640428150164, Lng: 116.41024449916938}},
}

func TestGCJ02ReferencePoints(t *testing.T) {
	for _, c := range gcjReference {
		if d := workflow.Distance(workflow.WGS84ToGCJ02(c.wgs), c.gcj); d > 1 {
			t.Errorf("%s: WGS-84 → GCJ-02 is %.3f m off", c.name, d)
		}
		got := workflow.GCJ02ToWGS84(c.gcj)
		if d := workflow.Distance(got, c.wgs); d > 1 {
			t.Errorf("%s: GCJ-02 → WGS-84 is %.3f m off (%v)", c.name, d, got)
		}
		// The offset itself is hundreds of metres: the test would catch a
		// transform left out.
		if d := workflow.Distance(c.wgs, c.gcj); d < 100 {
			t.Errorf("%s: reference pair only %.1f m apart", c.name, d)
		}
		p, err := workflow.NewLatLng(c.gcj.Lat, c.gcj.Lng, workflow.DatumGCJ02)
		if err != nil || workflow.Distance(p, c.wgs) > 1 {
			t.Errorf("%s: NewLatLng(gcj02) = %v, %v", c.name, p, err)
		}
	}
}

func TestGCJ02InverseSubMetreEverywhere(t *testing.T) {
	// A grid over China, Jingdezhen (29.3° N, 117.2° E) among it.
	worst := 0.0
	for lat := 18.0; lat <= 53; lat += 0.7 {
		for lng := 74.0; lng <= 135; lng += 0.9 {
			w := workflow.LatLng{Lat: lat, Lng: lng}
			worst = max(worst, workflow.Distance(workflow.GCJ02ToWGS84(workflow.WGS84ToGCJ02(w)), w))
		}
	}
	if worst > 0.01 {
		t.Fatalf("round trip up to %.4f m off", worst)
	}
	// Outside China both datums agree.
	paris := workflow.LatLng{Lat: 48.8566, Lng: 2.3522}
	if workflow.WGS84ToGCJ02(paris) != paris || workflow.GCJ02ToWGS84(paris) != paris {
		t.Fatal("a position outside China was shifted")
	}
}

func TestDistance(t *testing.T) {
	// One degree of latitude is 111.2 km on the mean sphere.
	if d := workflow.Distance(workflow.LatLng{Lat: 29, Lng: 117}, workflow.LatLng{Lat: 30, Lng: 117}); math.Abs(d-111195) > 5 {
		t.Fatalf("one degree of latitude = %.1f m", d)
	}
	if d := workflow.Distance(workflow.LatLng{Lat: 29.3, Lng: 117.2}, workflow.LatLng{Lat: 29.3, Lng: 117.2}); d != 0 {
		t.Fatalf("same point = %f", d)
	}
	// Antipodes: half the circumference.
	if d := workflow.Distance(workflow.LatLng{Lat: 0, Lng: 0}, workflow.LatLng{Lat: 0, Lng: 180}); math.Abs(d-math.Pi*6371008.8) > 1 {
		t.Fatalf("antipodes = %f", d)
	}
}

func TestNewLatLngRefusals(t *testing.T) {
	cases := []struct {
		lat, lng float64
		datum    workflow.Datum
		field    string
		reason   workflow.Reason
	}{
		{91, 117, "", "lat", workflow.ReasonOutOfRange},
		{-90.0001, 117, "wgs84", "lat", workflow.ReasonOutOfRange},
		{math.NaN(), 117, "", "lat", workflow.ReasonOutOfRange},
		{29, 180.5, "", "lng", workflow.ReasonOutOfRange},
		{29, math.Inf(-1), "gcj02", "lng", workflow.ReasonOutOfRange},
		{29, 117, "bd09", "datum", workflow.ReasonUnknownValue},
		{29, 117, "WGS 84", "datum", workflow.ReasonUnknownValue},
	}
	for _, c := range cases {
		_, err := workflow.NewLatLng(c.lat, c.lng, c.datum)
		var e *workflow.Error
		if !errors.As(err, &e) || e.Code != workflow.CodeInvalid || e.Field != c.field || e.Reason != c.reason {
			t.Errorf("NewLatLng(%v, %v, %q) = %v, want invalid %s", c.lat, c.lng, c.datum, err, c.field)
		}
	}
	for _, d := range []workflow.Datum{"", "wgs84", "WGS84", "gcj02", "GCJ02"} {
		if _, err := workflow.NewLatLng(-90, 180, d); err != nil {
			t.Errorf("edge of the range in %q refused: %v", d, err)
		}
	}
}
