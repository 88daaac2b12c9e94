package main

import (
	"fmt"
	"strings"

	"github.com/d1seal/d1seal/d1"
)

// progressBar prints an export's or import's progress on standard error, one line per report:
// a bar when the total is known, the phase and bytes otherwise, and D1's messages.
func progressBar(e *env) func(d1.Progress) {
	last := ""
	return func(p d1.Progress) {
		for _, m := range p.Messages {
			fmt.Fprintln(e.stderr, p.Op+":", m)
		}
		line := ""
		switch {
		case p.Total > 0 && (p.Phase == "downloading" || p.Phase == "uploading" || p.Phase == "complete"):
			const width = 30
			done := int(int64(width) * p.Bytes / p.Total)
			line = fmt.Sprintf("%s: %-11s [%s%s] %3d%% %s / %s", p.Op, p.Phase, strings.Repeat("#", done), strings.Repeat(".", width-done),
				100*p.Bytes/p.Total, size(p.Bytes), size(p.Total))
		case p.Bytes > 0:
			line = fmt.Sprintf("%s: %s %s", p.Op, p.Phase, size(p.Bytes))
		default:
			line = fmt.Sprintf("%s: %s", p.Op, p.Phase)
		}
		if line != last {
			fmt.Fprintln(e.stderr, line)
			last = line
		}
	}
}

func size(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
