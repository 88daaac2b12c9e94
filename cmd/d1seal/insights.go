package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/d1seal/d1seal/d1"
)

// cmdInsights is "d1seal insights": the queries that cost the most, as wrangler d1 insights
// shows them (D1's GraphQL Analytics API on Cloudflare; the local D1 keeps the same figures).
func cmdInsights(ctx context.Context, e *env, args []string) error {
	fs := flags("insights", e)
	period := fs.String("period", "1d", "how far back from now: hours (12h) or days (7d), from 1h to 31d")
	sortBy := fs.String("sort-by", "time", "sort by time, reads, writes or count")
	sortType := fs.String("sort-type", "sum", "sort by the sum or the avg of each query's runs")
	asc := fs.Bool("asc", false, "ascending order (default descending)")
	limit := fs.Int("limit", 5, "how many queries")
	all := fs.Bool("all", false, "every database of the account, not only this one")
	if err := e.parseNoArgs(fs, args); err != nil {
		return err
	}
	p, err := parsePeriod(*period)
	if err != nil {
		return usageError{"-period " + *period + ": " + err.Error()}
	}
	db, err := e.open(ctx)
	if err != nil {
		return err
	}
	opts := d1.InsightsOptions{Period: p, SortBy: *sortBy, SortType: *sortType, Ascending: *asc, Limit: *limit}
	if !*all {
		opts.DatabaseID = db.Client.DatabaseID()
	}
	qs, err := db.Client.Account().Insights(ctx, opts)
	if err != nil {
		if ae := (*d1.ArgError)(nil); errors.As(err, &ae) {
			return usageError{"check -sort-by (time, reads, writes, count), -sort-type (sum, avg), -period and -limit: " + err.Error()}
		}
		return err
	}
	if qs == nil {
		qs = []d1.QueryInsight{}
	}
	return e.print(qs, func(w io.Writer) {
		if len(qs) == 0 {
			fmt.Fprintf(w, "no queries in the last %s\n", *period)
			return
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "RUNS\tTOTAL MS\tAVG MS\tROWS READ\tROWS WRITTEN\tEFFICIENCY\t QUERY")
		for _, q := range qs {
			fmt.Fprintf(tw, "%d\t%.2f\t%.3f\t%d\t%d\t%.2f\t %s\n", q.NumberOfTimesRun, q.TotalDurationMs, q.AvgDurationMs,
				q.TotalRowsRead, q.TotalRowsWritten, q.QueryEfficiency, oneLine(q.Query))
		}
		tw.Flush()
	})
}

// parsePeriod reads wrangler's periods: a whole number of hours (h) or days (d).
func parsePeriod(s string) (time.Duration, error) {
	if len(s) < 2 {
		return 0, fmt.Errorf("give hours or days, such as 12h or 7d")
	}
	n, err := strconv.Atoi(s[:len(s)-1])
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("give hours or days, such as 12h or 7d")
	}
	switch s[len(s)-1] {
	case 'h':
		return time.Duration(n) * time.Hour, nil
	case 'd':
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return 0, fmt.Errorf("give hours or days, such as 12h or 7d")
}

// oneLine shortens a query to one line of at most 100 characters for a table.
func oneLine(q string) string {
	q = strings.Join(strings.Fields(q), " ")
	if len(q) > 100 {
		q = q[:97] + "..."
	}
	return q
}
