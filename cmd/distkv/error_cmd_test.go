package main

import "testing"

// TestErrorCommands runs the error commands through the binary
// (testdata/errors.txt).
func TestErrorCommands(t *testing.T) { runScript(t, "testdata/errors.txt") }
