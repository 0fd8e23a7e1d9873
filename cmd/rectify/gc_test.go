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
