// Package wire holds the JSON shapes of Cloudflare's D1 REST API that both the client (package
// d1) and the local D1 (package d1/d1local) speak. It is internal so that D1's envelope never
// becomes public API: callers see d1.Result, d1.Meta and *d1.Error instead.
//
// Shapes follow https://developers.cloudflare.com/api/resources/d1/ and what D1 actually sends
// (checked against real D1); unknown fields are ignored when decoding.
package wire

import "encoding/json"

// Envelope is Cloudflare's v4 response envelope. On failure Result is null, Success false and
// Errors holds at least one message.
type Envelope[T any] struct {
	Result     T           `json:"result"`
	ResultInfo *ResultInfo `json:"result_info,omitempty"`
	Success    bool        `json:"success"`
	Errors     []Message   `json:"errors"`
	Messages   []Message   `json:"messages"`
}

// Message is one entry of an envelope's errors or messages.
type Message struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// ResultInfo is the pagination block of list endpoints.
type ResultInfo struct {
	Page       int `json:"page"`
	PerPage    int `json:"per_page"`
	Count      int `json:"count"`
	TotalCount int `json:"total_count"`
}

// Cloudflare error codes used by D1.
const (
	CodeSQL          = 7500  // SQL or request error (HTTP 400)
	CodeNotFound     = 7404  // unknown database (HTTP 404)
	CodeForbidden    = 7403  // token lacks access (HTTP 403)
	CodeAuth         = 10000 // authentication error (HTTP 401/403)
	CodeInvalidInput = 7400  // malformed request body (HTTP 400)
	CodeRateLimited  = 971   // too many requests (HTTP 429)
	CodeInternal     = 7000  // internal error (HTTP 500)
)

// Statement is one SQL statement with positional parameters, as in a `batch` array.
// Params are raw JSON values: strings, numbers, null, booleans or arrays of byte values.
type Statement struct {
	SQL    string            `json:"sql"`
	Params []json.RawMessage `json:"params,omitempty"`
}

// QueryRequest is the body of POST /query and /raw: either SQL with optional Params (several
// statements joined by ';' run as one atomic batch, but then Params must be empty), or Batch.
type QueryRequest struct {
	SQL    string            `json:"sql,omitempty"`
	Params []json.RawMessage `json:"params,omitempty"`
	Batch  []Statement       `json:"batch,omitempty"`
}

// Meta is the per-statement metadata D1 returns.
type Meta struct {
	ChangedDB       bool     `json:"changed_db"`
	Changes         int64    `json:"changes"`
	Duration        float64  `json:"duration"`
	LastRowID       int64    `json:"last_row_id"`
	RowsRead        int64    `json:"rows_read"`
	RowsWritten     int64    `json:"rows_written"`
	SizeAfter       int64    `json:"size_after"`
	ServedBy        string   `json:"served_by,omitempty"`
	ServedByColo    string   `json:"served_by_colo,omitempty"`
	ServedByPrimary bool     `json:"served_by_primary"`
	ServedByRegion  string   `json:"served_by_region,omitempty"`
	TotalAttempts   int      `json:"total_attempts,omitempty"`
	Timings         *Timings `json:"timings,omitempty"`
}

// Timings is meta.timings.
type Timings struct {
	SQLDurationMS float64 `json:"sql_duration_ms"`
}

// RawRows is the results object of a /raw result item. Values are JSON: numbers, strings,
// null, or arrays of byte values for BLOBs.
type RawRows struct {
	Columns []string            `json:"columns"`
	Rows    [][]json.RawMessage `json:"rows"`
}

// RawResult is one item of a /raw response's result array: one per statement.
type RawResult struct {
	Results RawRows `json:"results"`
	Success bool    `json:"success"`
	Meta    Meta    `json:"meta"`
}

// QueryResult is one item of a /query response's result array. Results holds one JSON object
// per row, keys in column order (a later duplicate column name overwrites an earlier one).
type QueryResult struct {
	Results []json.RawMessage `json:"results"`
	Success bool              `json:"success"`
	Meta    Meta              `json:"meta"`
}

// Database is the object returned by database create/get/list.
type Database struct {
	UUID            string           `json:"uuid"`
	Name            string           `json:"name"`
	CreatedAt       string           `json:"created_at,omitempty"`
	Version         string           `json:"version,omitempty"`
	NumTables       int64            `json:"num_tables"`
	FileSize        int64            `json:"file_size"`
	ReadReplication *ReadReplication `json:"read_replication,omitempty"`
}

// ReadReplication is a database's read replication setting: mode "auto" or "disabled".
type ReadReplication struct {
	Mode string `json:"mode"`
}

// CreateDatabaseRequest is the body of POST /d1/database.
type CreateDatabaseRequest struct {
	Name                string `json:"name"`
	PrimaryLocationHint string `json:"primary_location_hint,omitempty"`
}

// ExportRequest is the body of POST /export.
type ExportRequest struct {
	OutputFormat    string       `json:"output_format"`
	CurrentBookmark string       `json:"current_bookmark,omitempty"`
	DumpOptions     *DumpOptions `json:"dump_options,omitempty"`
}

// DumpOptions selects what an export contains.
type DumpOptions struct {
	NoData   bool     `json:"no_data,omitempty"`
	NoSchema bool     `json:"no_schema,omitempty"`
	Tables   []string `json:"tables,omitempty"`
}

// ExportResponse is the result of POST /export. Status is "active", "complete" or "error".
type ExportResponse struct {
	AtBookmark string      `json:"at_bookmark"`
	Error      string      `json:"error,omitempty"`
	Messages   []string    `json:"messages"` // always an array: wrangler calls messages.forEach
	Result     *ExportFile `json:"result,omitempty"`
	Status     string      `json:"status"`
	Success    bool        `json:"success"`
	Type       string      `json:"type"`
}

// ExportFile names the finished dump.
type ExportFile struct {
	Filename  string `json:"filename"`
	SignedURL string `json:"signed_url"`
}

// ImportRequest is the body of POST /import. Action is "init", "ingest" or "poll".
type ImportRequest struct {
	Action          string `json:"action"`
	Etag            string `json:"etag,omitempty"`
	Filename        string `json:"filename,omitempty"`
	CurrentBookmark string `json:"current_bookmark,omitempty"`
}

// ImportResponse is the result of POST /import.
type ImportResponse struct {
	AtBookmark string        `json:"at_bookmark,omitempty"`
	Error      string        `json:"error,omitempty"`
	Filename   string        `json:"filename,omitempty"`
	Messages   []string      `json:"messages"`         // always an array: wrangler calls messages.forEach
	Errors     []string      `json:"errors,omitempty"` // with status "error": wrangler joins these
	Result     *ImportResult `json:"result,omitempty"`
	Status     string        `json:"status,omitempty"`
	Success    bool          `json:"success"`
	Type       string        `json:"type,omitempty"`
	UploadURL  string        `json:"upload_url,omitempty"`
}

// ImportResult is present when an import completes.
type ImportResult struct {
	FinalBookmark string `json:"final_bookmark"`
	NumQueries    int64  `json:"num_queries"`
	Meta          Meta   `json:"meta"`
}

// Bookmark is the result of GET /time_travel/bookmark.
type Bookmark struct {
	Bookmark string `json:"bookmark"`
}

// RestoreResponse is the result of POST /time_travel/restore.
type RestoreResponse struct {
	Bookmark         string `json:"bookmark"`
	PreviousBookmark string `json:"previous_bookmark"`
	Message          string `json:"message,omitempty"`
}
