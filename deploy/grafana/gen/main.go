// Command gen writes QuantumFlow's Grafana dashboards
// (deploy/grafana/dashboards/*.json) from Go, with the Grafana foundation
// SDK. The committed JSON must equal its output; the package's tests check
// that, and refresh the files with -update:
//
//	go generate ./deploy/grafana/gen
//	go test ./deploy/grafana/gen -update
package main

//go:generate go run . -out ../dashboards

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	out := flag.String("out", "deploy/grafana/dashboards", "directory to write the dashboards to")
	flag.Parse()
	if err := write(*out); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

// write renders every board into dir.
func write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, b := range Boards {
		d, err := b.Build()
		if err != nil {
			return fmt.Errorf("%s: %w", b.File, err)
		}
		data, err := Render(d)
		if err != nil {
			return fmt.Errorf("%s: %w", b.File, err)
		}
		if err := os.WriteFile(filepath.Join(dir, b.File), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}
