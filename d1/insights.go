package d1

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	cfd1 "github.com/cloudflare/cloudflare-go/v7/d1"
	"github.com/cloudflare/cloudflare-go/v7/option"
)

// QueryInsight is what D1 knows of one query over a period: the totals and averages of its
// runs, in the shape `wrangler d1 insights` prints (its JSON field names).
type QueryInsight struct {
	Query            string  `json:"query"`
	DatabaseID       string  `json:"databaseId,omitempty"` // when InsightsOptions.DatabaseID is empty
	AvgRowsRead      float64 `json:"avgRowsRead"`
	TotalRowsRead    int64   `json:"totalRowsRead"`
	AvgRowsWritten   float64 `json:"avgRowsWritten"`
	TotalRowsWritten int64   `json:"totalRowsWritten"`
	AvgDurationMs    float64 `json:"avgDurationMs"`
	TotalDurationMs  float64 `json:"totalDurationMs"`
	NumberOfTimesRun int64   `json:"numberOfTimesRun"`
	QueryEfficiency  float64 `json:"queryEfficiency"` // rows returned per row read, on average
}

// InsightsOptions selects query insights. The zero value asks for the 5 queries that took the
// most time in total over the last day, in every database of the account; set DatabaseID for
// one database's, as wrangler does.
type InsightsOptions struct {
	Period     time.Duration // how far back from now; default 24 h, at most 31 days
	SortBy     string        // "time" (default), "reads", "writes" or "count"
	SortType   string        // "sum" (default) or "avg"
	Ascending  bool          // default descending
	Limit      int           // default 5
	DatabaseID string        // one database; default every database of the account
}

// insightFields maps InsightsOptions.SortBy to the GraphQL field D1's analytics sort by.
var insightFields = map[string]string{"time": "queryDurationMs", "reads": "rowsRead", "writes": "rowsWritten", "count": "count"}

// Insights returns D1's query insights: Cloudflare's GraphQL Analytics API (the
// d1QueriesAdaptiveGroups dataset), queried as `wrangler d1 insights` does. The API token
// needs the "Account Analytics: Read" permission. The local D1 keeps the same figures for the
// queries it ran.
func (a *Account) Insights(ctx context.Context, opts InsightsOptions) ([]QueryInsight, error) {
	const op = "insights"
	if opts.Period == 0 {
		opts.Period = 24 * time.Hour
	}
	if opts.SortBy == "" {
		opts.SortBy = "time"
	}
	if opts.SortType == "" {
		opts.SortType = "sum"
	}
	if opts.Limit == 0 {
		opts.Limit = 5
	}
	field, ok := insightFields[opts.SortBy]
	switch {
	case !ok:
		return nil, &ArgError{Statement: -1, Index: -1, Type: "sort", Reason: fmt.Sprintf("%q: sort by time, reads, writes or count", opts.SortBy)}
	case opts.SortType != "sum" && opts.SortType != "avg":
		return nil, &ArgError{Statement: -1, Index: -1, Type: "sort", Reason: fmt.Sprintf("%q: sort by the sum or the avg", opts.SortType)}
	case opts.Period < time.Hour || opts.Period > 31*24*time.Hour:
		return nil, &ArgError{Statement: -1, Index: -1, Type: "period", Reason: "from 1 hour to 31 days"}
	case opts.Limit < 0 || opts.Limit > 10_000:
		return nil, &ArgError{Statement: -1, Index: -1, Type: "limit", Reason: "from 1 to 10,000"}
	}
	dir := "DESC"
	if opts.Ascending {
		dir = "ASC"
	}
	order := opts.SortType + "_" + field + "_" + dir
	if field == "count" {
		order = "count_" + dir
	}
	end := time.Now().UTC().Truncate(time.Hour).Add(time.Hour)
	filter := map[string]any{"datetimeHour_geq": end.Add(-opts.Period).Format(time.RFC3339), "datetimeHour_leq": end.Format(time.RFC3339)}
	if opts.DatabaseID != "" {
		if err := checkID(op, opts.DatabaseID); err != nil {
			return nil, err
		}
		filter["databaseId"] = opts.DatabaseID
	}
	body, err := json.Marshal(map[string]any{
		"operationName": "getD1QueriesOverviewQuery",
		"query": `query getD1QueriesOverviewQuery($accountTag: string, $filter: ZoneWorkersRequestsFilter_InputObject) {
	viewer {
		accounts(filter: {accountTag: $accountTag}) {
			d1QueriesAdaptiveGroups(limit: ` + fmt.Sprint(opts.Limit) + `, filter: $filter, orderBy: [` + order + `]) {
				sum { queryDurationMs rowsRead rowsWritten rowsReturned }
				avg { queryDurationMs rowsRead rowsWritten rowsReturned }
				count
				dimensions { query databaseId }
			}
		}
	}
}`,
		"variables": map[string]any{"accountTag": a.accountID, "filter": map[string]any{"AND": []any{filter}}},
	})
	if err != nil {
		return nil, err
	}
	var out []QueryInsight
	cl := &call{op: op, safe: true}
	cl.do = func(ctx context.Context, ro ...option.RequestOption) error {
		// The GraphQL endpoint is not one cloudflare-go's D1 service knows: its request (with
		// the client's auth) is turned into a POST to {base}/graphql on the way out.
		var p cfd1.DatabaseGetParams
		setField(&p.AccountID.Value, &p.AccountID.Present, a.accountID)
		_, err := a.svc.Get(ctx, "graphql", p, append([]option.RequestOption{option.WithMiddleware(toGraphQL(body))}, ro...)...)
		return err
	}
	cl.decode = func(b []byte) error {
		var res graphQLInsights
		if err := json.Unmarshal(b, &res); err != nil {
			return fmt.Errorf("decode response: %w", err)
		}
		if len(res.Errors) > 0 {
			e := &Error{Op: op, Statement: -1, StatusCode: 200, Sent: true, Message: "GraphQL Analytics API: " + res.Errors[0].Message}
			return e
		}
		for _, acct := range res.Data.Viewer.Accounts {
			for _, g := range acct.Groups {
				if g.Dimensions.Query == "" {
					continue
				}
				q := QueryInsight{
					Query: g.Dimensions.Query, AvgRowsRead: g.Avg.RowsRead, TotalRowsRead: int64(g.Sum.RowsRead),
					AvgRowsWritten: g.Avg.RowsWritten, TotalRowsWritten: int64(g.Sum.RowsWritten),
					AvgDurationMs: g.Avg.QueryDurationMs, TotalDurationMs: g.Sum.QueryDurationMs, NumberOfTimesRun: g.Count,
				}
				if g.Avg.RowsRead > 0 {
					q.QueryEfficiency = g.Avg.RowsReturned / g.Avg.RowsRead
				}
				if opts.DatabaseID == "" {
					q.DatabaseID = g.Dimensions.DatabaseID
				}
				out = append(out, q)
			}
		}
		return nil
	}
	if err := a.run(ctx, cl); err != nil {
		return nil, err
	}
	return out, nil
}

type graphQLInsights struct {
	Data struct {
		Viewer struct {
			Accounts []struct {
				Groups []struct {
					Sum, Avg struct {
						QueryDurationMs, RowsRead, RowsWritten, RowsReturned float64
					}
					Count      int64
					Dimensions struct {
						Query      string `json:"query"`
						DatabaseID string `json:"databaseId"`
					}
				} `json:"d1QueriesAdaptiveGroups"`
			} `json:"accounts"`
		} `json:"viewer"`
	} `json:"data"`
	Errors []struct {
		Message string `json:"message"`
	} `json:"errors"`
}

// toGraphQL rewrites the outgoing request into a POST of body to the API's /graphql.
func toGraphQL(body []byte) option.Middleware {
	return func(req *http.Request, next option.MiddlewareNext) (*http.Response, error) {
		if i := strings.Index(req.URL.Path, "/accounts/"); i >= 0 {
			req.URL.Path = req.URL.Path[:i] + "/graphql"
			req.URL.RawPath = ""
		}
		req.URL.RawQuery = ""
		req.Method = http.MethodPost
		req.Header.Set("Content-Type", "application/json")
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.ContentLength = int64(len(body))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		return next(req)
	}
}
