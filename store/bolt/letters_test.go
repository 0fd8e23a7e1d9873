package bolt

import (
	"testing"

	"github.com/jdz-eco/rectify/store/storetest"
	"github.com/jdz-eco/rectify/workflow"
)

func TestLetters(t *testing.T) {
	storetest.RunLetters(t, func(t *testing.T) workflow.Store {
		s, _ := open(t, Options{})
		return s
	})
}

func TestServiceLetters(t *testing.T) {
	s, _ := open(t, Options{})
	storetest.RunServiceLetters(t, s)
}
