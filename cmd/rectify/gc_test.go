package main

import "testing"

func TestWantDefaultGC(t *testing.T) {
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	for _, c := range []struct {
		args []string
		env  func(string) string
		want bool
	}{
		{[]string{"serve"}, env(), true},
		{[]string{"bench", "--duration", "5s"}, env(), true},
		{[]string{"serve"}, env("GOGC", "100"), false},
		{[]string{"bench"}, env("GOMEMLIMIT", "1GiB"), false},
		{[]string{"seed"}, env(), false},
		{[]string{"audit", "verify"}, env(), false},
		{nil, env(), false},
	} {
		if got := wantDefaultGC(c.args, c.env); got != c.want {
			t.Errorf("wantDefaultGC(%v) = %v, want %v", c.args, got, c.want)
		}
	}
}

func TestWantMoreProcs(t *testing.T) {
	env := func(k string) string {
		if k == "GOMAXPROCS" {
			return "3"
		}
		return ""
	}
	none := func(string) string { return "" }
	for _, c := range []struct {
		args []string
		env  func(string) string
		want bool
	}{
		{[]string{"serve"}, none, true},
		{[]string{"bench", "--clients", "1"}, none, true},
		{[]string{"serve"}, env, false},
		{[]string{"seed"}, none, false},
		{nil, none, false},
	} {
		if got := wantMoreProcs(c.args, c.env); got != c.want {
			t.Errorf("wantMoreProcs(%v) = %v, want %v", c.args, got, c.want)
		}
	}
}
