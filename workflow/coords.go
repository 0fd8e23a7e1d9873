package workflow

import (
	"math"
	"strings"
)

// Datum is the geodetic datum coordinates are given in.
type Datum string

// Datums accepted. Positions are stored in WGS-84; GCJ-02 (the datum of
// Chinese web maps, "火星坐标") is converted on the way in.
const (
	DatumWGS84 Datum = "wgs84"
	DatumGCJ02 Datum = "gcj02"
)

// LatLng is a position in WGS-84, in decimal degrees.
type LatLng struct {
	Lat float64 `json:"lat"`
	Lng float64 `json:"lng"`
}

// NewLatLng validates lat and lng (−90..90, −180..180, finite) given in
// datum ("" is WGS-84) and returns the WGS-84 position. An unknown datum or
// a value out of range is a CodeInvalid naming the field
// (ReasonUnknownValue, ReasonOutOfRange).
func NewLatLng(lat, lng float64, datum Datum) (LatLng, error) {
	switch {
	case math.IsNaN(lat) || lat < -90 || lat > 90:
		return LatLng{}, RefuseField(ReasonOutOfRange, "lat", "lat must be a latitude from -90 to 90")
	case math.IsNaN(lng) || lng < -180 || lng > 180:
		return LatLng{}, RefuseField(ReasonOutOfRange, "lng", "lng must be a longitude from -180 to 180")
	}
	switch Datum(strings.ToLower(string(datum))) {
	case "", DatumWGS84:
		return LatLng{Lat: lat, Lng: lng}, nil
	case DatumGCJ02:
		return GCJ02ToWGS84(LatLng{Lat: lat, Lng: lng}), nil
	}
	return LatLng{}, RefuseField(ReasonUnknownValue, "datum", "datum must be %q or %q", DatumWGS84, DatumGCJ02)
}

// earthRadius is the mean radius of the Earth in metres, for Distance.
const earthRadius = 6371008.8

// Distance returns the great-circle (haversine) distance from a to b in
// metres; within a county the error against the ellipsoid is under 0.5 %.
func Distance(a, b LatLng) float64 {
	rad := math.Pi / 180
	dLat, dLng := (b.Lat-a.Lat)*rad, (b.Lng-a.Lng)*rad
	h := math.Sin(dLat/2)*math.Sin(dLat/2) + math.Cos(a.Lat*rad)*math.Cos(b.Lat*rad)*math.Sin(dLng/2)*math.Sin(dLng/2)
	return 2 * earthRadius * math.Asin(math.Sqrt(min(h, 1)))
}

// The GCJ-02 transform is the published one (the "eviltransform"
// algorithm): an offset computed on the Krasovsky 1940 ellipsoid from
// trigonometric series in the distance to (105° E, 35° N), applied only
// inside a rectangle around China.
const (
	krasovskyA  = 6378245.0
	krasovskyE2 = 0.00669342162296594323
)

// inChina reports whether p lies in the rectangle where GCJ-02 differs from
// WGS-84.
func inChina(p LatLng) bool {
	return p.Lng >= 72.004 && p.Lng <= 137.8347 && p.Lat >= 0.8293 && p.Lat <= 55.8271
}

// WGS84ToGCJ02 returns the GCJ-02 coordinates of the WGS-84 position p.
func WGS84ToGCJ02(p LatLng) LatLng {
	if !inChina(p) {
		return p
	}
	d := gcjOffset(p)
	return LatLng{Lat: p.Lat + d.Lat, Lng: p.Lng + d.Lng}
}

// GCJ02ToWGS84 returns the WGS-84 position of the GCJ-02 coordinates g,
// inverting WGS84ToGCJ02 by fixed-point iteration until the round trip is
// within 1e-9° (about 0.1 mm); it converges in a few steps.
func GCJ02ToWGS84(g LatLng) LatLng {
	if !inChina(g) {
		return g
	}
	w := g
	for range 30 {
		f := WGS84ToGCJ02(w)
		dLat, dLng := f.Lat-g.Lat, f.Lng-g.Lng
		w.Lat -= dLat
		w.Lng -= dLng
		if math.Abs(dLat) < 1e-9 && math.Abs(dLng) < 1e-9 {
			break
		}
	}
	return w
}

// gcjOffset is the GCJ-02 offset, in degrees, at the WGS-84 position p.
func gcjOffset(p LatLng) LatLng {
	x, y := p.Lng-105, p.Lat-35
	dLat := -100 + 2*x + 3*y + 0.2*y*y + 0.1*x*y + 0.2*math.Sqrt(math.Abs(x))
	dLng := 300 + x + 2*y + 0.1*x*x + 0.1*x*y + 0.1*math.Sqrt(math.Abs(x))
	common := (20*math.Sin(6*x*math.Pi) + 20*math.Sin(2*x*math.Pi)) * 2 / 3
	dLat += common + (20*math.Sin(y*math.Pi)+40*math.Sin(y/3*math.Pi))*2/3 + (160*math.Sin(y/12*math.Pi)+320*math.Sin(y*math.Pi/30))*2/3
	dLng += common + (20*math.Sin(x*math.Pi)+40*math.Sin(x/3*math.Pi))*2/3 + (150*math.Sin(x/12*math.Pi)+300*math.Sin(x/30*math.Pi))*2/3
	rad := p.Lat / 180 * math.Pi
	magic := 1 - krasovskyE2*math.Sin(rad)*math.Sin(rad)
	sqrtMagic := math.Sqrt(magic)
	return LatLng{
		Lat: dLat * 180 / ((krasovskyA * (1 - krasovskyE2)) / (magic * sqrtMagic) * math.Pi),
		Lng: dLng * 180 / (krasovskyA / sqrtMagic * math.Cos(rad) * math.Pi),
	}
}
