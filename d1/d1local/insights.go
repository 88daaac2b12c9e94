package d1local

import (
	"cmp"
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Query insights: D1 reports, through Cloudflare's GraphQL Analytics API, the totals of each
// query text run on each database per hour (the d1QueriesAdaptiveGroups dataset that
// `wrangler d1 insights` and d1.Account.Insights read). The local D1 keeps the same figures for
// the statements it commits and answers the same GraphQL query at /client/v4/graphql: other
// GraphQL queries get a GraphQL error. Figures are kept in memory and, with a Dir, in
// <uuid>.insights.json beside the database when the Server closes (with the read replication
// mode), so that the CLI, one process per command, sees the queries of earlier commands.

// queryStats are one database's figures, per hour and query text.
type queryStats struct {
	mu   sync.Mutex
	byID map[statsKey]*statsAgg
}

type statsKey struct {
	hour time.Time
	sql  string
}

type statsAgg struct {
	count                                   int64
	durationMs, read, written, returnedRows float64
}

// maxStatsEntries bounds the figures kept per database: past it, the oldest hour is dropped.
const maxStatsEntries = 10_000

func (q *queryStats) add(now time.Time, sql string, durationMs float64, read, written, returned int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.byID == nil {
		q.byID = map[statsKey]*statsAgg{}
	}
	k := statsKey{hour: now.UTC().Truncate(time.Hour), sql: sql}
	a := q.byID[k]
	if a == nil {
		if len(q.byID) >= maxStatsEntries {
			oldest := time.Time{}
			for k := range q.byID {
				if oldest.IsZero() || k.hour.Before(oldest) {
					oldest = k.hour
				}
			}
			for k := range q.byID {
				if k.hour.Equal(oldest) {
					delete(q.byID, k)
				}
			}
		}
		a = &statsAgg{}
		q.byID[k] = a
	}
	a.count++
	a.durationMs += durationMs
	a.read += float64(read)
	a.written += float64(written)
	a.returnedRows += float64(returned)
}

// sum adds the figures of hours in [from, to] into into, per query text.
func (q *queryStats) sum(from, to time.Time, into map[string]*statsAgg) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for k, a := range q.byID {
		if k.hour.Before(from) || k.hour.After(to) {
			continue
		}
		t := into[k.sql]
		if t == nil {
			t = &statsAgg{}
			into[k.sql] = t
		}
		t.count += a.count
		t.durationMs += a.durationMs
		t.read += a.read
		t.written += a.written
		t.returnedRows += a.returnedRows
	}
}

var (
	gqlLimit   = regexp.MustCompile(`d1QueriesAdaptiveGroups\s*\(\s*limit:\s*(\d+)`)
	gqlOrderBy = regexp.MustCompile(`orderBy:\s*\[\s*(\w+)\s*\]`)
)

type gqlRequest struct {
	Query     string `json:"query"`
	Variables struct {
		AccountTag string `json:"accountTag"`
		Filter     struct {
			AND []struct {
				From       string `json:"datetimeHour_geq"`
				To         string `json:"datetimeHour_leq"`
				DatabaseID string `json:"databaseId"`
			} `json:"AND"`
		} `json:"filter"`
	} `json:"variables"`
}

// settingsFile is what <uuid>.insights.json holds.
type settingsFile struct {
	ReadReplication string       `json:"read_replication,omitempty"`
	Queries         []savedStats `json:"queries,omitempty"`
}

type savedStats struct {
	Hour         time.Time `json:"hour"`
	SQL          string    `json:"sql"`
	Count        int64     `json:"count"`
	DurationMs   float64   `json:"duration_ms"`
	RowsRead     float64   `json:"rows_read"`
	RowsWritten  float64   `json:"rows_written"`
	RowsReturned float64   `json:"rows_returned"`
}

// loadSettings reads the settings file, if any; a damaged one is reported and ignored.
func (d *database) loadSettings(log interface{ Warn(string, ...any) }) {
	data, err := os.ReadFile(d.settingsPath)
	if err != nil {
		return
	}
	var f settingsFile
	if err := json.Unmarshal(data, &f); err != nil {
		log.Warn("d1local: insights file ignored", "path", d.settingsPath, "err", err)
		return
	}
	if f.ReadReplication == "auto" {
		d.replication = f.ReadReplication
	}
	d.stats.mu.Lock()
	defer d.stats.mu.Unlock()
	d.stats.byID = map[statsKey]*statsAgg{}
	for _, q := range f.Queries[:min(len(f.Queries), maxStatsEntries)] {
		d.stats.byID[statsKey{hour: q.Hour.UTC(), sql: q.SQL}] = &statsAgg{count: q.Count, durationMs: q.DurationMs, read: q.RowsRead, written: q.RowsWritten, returnedRows: q.RowsReturned}
	}
}

// saveSettings writes the settings file (the caller holds d.mu).
func (d *database) saveSettings() {
	if d.settingsPath == "" {
		return
	}
	f := settingsFile{ReadReplication: d.replication}
	d.stats.mu.Lock()
	for k, a := range d.stats.byID {
		f.Queries = append(f.Queries, savedStats{Hour: k.hour, SQL: k.sql, Count: a.count, DurationMs: a.durationMs, RowsRead: a.read, RowsWritten: a.written, RowsReturned: a.returnedRows})
	}
	d.stats.mu.Unlock()
	slices.SortFunc(f.Queries, func(a, b savedStats) int { return cmp.Or(a.Hour.Compare(b.Hour), strings.Compare(a.SQL, b.SQL)) })
	data, err := json.Marshal(f)
	if err != nil {
		return
	}
	tmp := d.settingsPath + ".tmp"
	if os.WriteFile(tmp, data, 0o600) == nil {
		_ = os.Rename(tmp, d.settingsPath)
	}
}

// databases returns the open databases.
func (s *Server) databases() []*database {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*database, 0, len(s.dbs))
	for _, d := range s.dbs {
		out = append(out, d)
	}
	return out
}

// handleGraphQL answers the d1QueriesAdaptiveGroups query, as Cloudflare's GraphQL Analytics
// API does (HTTP 200 with errors for a query it cannot answer).
func (s *Server) handleGraphQL(w http.ResponseWriter, r *http.Request) {
	gqlError := func(msg string) {
		writeJSON(w, http.StatusOK, map[string]any{"data": nil, "errors": []map[string]string{{"message": msg}}})
	}
	if r.Method != http.MethodPost {
		writeError(w, errMethod())
		return
	}
	var req gqlRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
		gqlError("failed to parse the request: " + err.Error())
		return
	}
	if !strings.Contains(req.Query, "d1QueriesAdaptiveGroups") {
		gqlError("the local D1 answers the d1QueriesAdaptiveGroups dataset only")
		return
	}
	limit := 100
	if m := gqlLimit.FindStringSubmatch(req.Query); m != nil {
		limit, _ = strconv.Atoi(m[1])
	}
	order := "sum_queryDurationMs_DESC"
	if m := gqlOrderBy.FindStringSubmatch(req.Query); m != nil {
		order = m[1]
	}
	from, to := time.Time{}, time.Now().UTC().Add(time.Hour)
	var only string
	for _, f := range req.Variables.Filter.AND {
		if t, err := time.Parse(time.RFC3339, f.From); err == nil {
			from = t
		}
		if t, err := time.Parse(time.RFC3339, f.To); err == nil {
			to = t
		}
		if f.DatabaseID != "" {
			only = f.DatabaseID
		}
	}
	type group struct {
		db, sql string
		a       *statsAgg
	}
	var groups []group
	for _, d := range s.databases() {
		if only != "" && d.id != only {
			continue
		}
		per := map[string]*statsAgg{}
		d.stats.sum(from, to, per)
		for sql, a := range per {
			groups = append(groups, group{d.id, sql, a})
		}
	}
	key := func(g group) float64 {
		a := g.a
		avg := func(v float64) float64 { return v / float64(max(a.count, 1)) }
		switch {
		case strings.HasPrefix(order, "count"):
			return float64(a.count)
		case strings.Contains(order, "rowsRead"):
			if strings.HasPrefix(order, "avg") {
				return avg(a.read)
			}
			return a.read
		case strings.Contains(order, "rowsWritten"):
			if strings.HasPrefix(order, "avg") {
				return avg(a.written)
			}
			return a.written
		}
		if strings.HasPrefix(order, "avg") {
			return avg(a.durationMs)
		}
		return a.durationMs
	}
	desc := !strings.HasSuffix(order, "_ASC")
	slices.SortStableFunc(groups, func(x, y group) int {
		c := cmp.Compare(key(x), key(y))
		if desc {
			c = -c
		}
		return cmp.Or(c, strings.Compare(x.sql, y.sql), strings.Compare(x.db, y.db))
	})
	groups = groups[:min(len(groups), limit)]
	rows := make([]map[string]any, 0, len(groups))
	for _, g := range groups {
		a, n := g.a, float64(max(g.a.count, 1))
		rows = append(rows, map[string]any{
			"sum":        map[string]float64{"queryDurationMs": a.durationMs, "rowsRead": a.read, "rowsWritten": a.written, "rowsReturned": a.returnedRows},
			"avg":        map[string]float64{"queryDurationMs": a.durationMs / n, "rowsRead": a.read / n, "rowsWritten": a.written / n, "rowsReturned": a.returnedRows / n},
			"count":      a.count,
			"dimensions": map[string]string{"query": g.sql, "databaseId": g.db},
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"data":   map[string]any{"viewer": map[string]any{"accounts": []map[string]any{{"d1QueriesAdaptiveGroups": rows}}}},
		"errors": nil,
	})
}
