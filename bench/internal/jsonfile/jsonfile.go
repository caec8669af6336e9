// Package jsonfile writes and reads the JSON result files that the benchmark
// commands write and the report reads, in one format for all of them.
package jsonfile

import (
	"encoding/json"
	"os"
)

// Write writes v to path as JSON indented by one space and ending in a
// newline, the form of the committed results in bench/results.
func Write(path string, v any) error {
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// Read decodes the JSON file path into v. The error of a missing file
// matches fs.ErrNotExist.
func Read(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
