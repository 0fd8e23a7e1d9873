//go:build !linux

package blob

import (
	"errors"
	"os"
)

var errNoUnnamed = errors.New("blob: unnamed temporary files are not supported here")

func openUnnamed(string) (*os.File, error) { return nil, errNoUnnamed }
func linkUnnamed(*os.File, string) error   { return errNoUnnamed }
func probeUnnamed(string) bool             { return false }
