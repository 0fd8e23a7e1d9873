package main

import (
	"os"
	"strings"
	"testing"

	"github.com/jdz-eco/rectify/workflow"
)

// TestReadmeDiagram keeps the README's Mermaid diagram equal to the machine.
func TestReadmeDiagram(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "```mermaid\n"+workflow.Mermaid()+"```") {
		t.Fatalf("README.md's mermaid block differs from workflow.Mermaid(); paste the output of 'rectify workflow':\n%s", workflow.Mermaid())
	}
}
