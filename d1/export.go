package d1

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	cfd1 "github.com/cloudflare/cloudflare-go/v7/d1"
	"github.com/cloudflare/cloudflare-go/v7/option"

	"github.com/d1seal/d1seal/internal/wire"
)

// Progress reports how a long operation (Export, Import) is going.
type Progress struct {
	Op       string   // "export" or "import"
	Phase    string   // "polling", "downloading", "uploading", "ingesting", "complete"
	Status   string   // D1's status: "active", "complete", "error"
	Messages []string // D1's log lines since the last report
	Bytes    int64    // bytes downloaded or uploaded so far
	Total    int64    // total bytes when known, else -1
}

// ExportOptions selects what Export writes. The zero value exports schema and data of every
// table.
type ExportOptions struct {
	NoData   bool     // schema only
	NoSchema bool     // data only
	Tables   []string // only these tables

	// PollInterval is the wait between status polls. Default 250 ms. D1 cancels an export
	// that is not polled, so keep it short.
	PollInterval time.Duration

	// Progress, if set, is called as the export advances.
	Progress func(Progress)
}

// ExportInfo describes a finished export.
type ExportInfo struct {
	Bookmark string // the Time Travel bookmark the dump was taken at
	Filename string
	Bytes    int64
}

// Export writes a SQL dump of the database to w: it starts D1's export, polls it until the
// dump is ready, then downloads the dump from its signed URL (sent no Authorization header).
// While an export runs D1 serves no other query on the database.
//
// D1's dump writes each table followed by its rows, in the order the tables were created. A
// table whose foreign key names a table created after it therefore cannot be re-imported from
// a whole dump (the insert into it fails with "no such table" for the parent): export the
// schema (NoData) and the data (NoSchema) separately and import the schema first.
func (c *Client) Export(ctx context.Context, w io.Writer, opts ExportOptions) (ExportInfo, error) {
	if opts.PollInterval <= 0 {
		opts.PollInterval = defaultPollInterval
	}
	req := wire.ExportRequest{OutputFormat: "polling"}
	if opts.NoData || opts.NoSchema || len(opts.Tables) > 0 {
		req.DumpOptions = &wire.DumpOptions{NoData: opts.NoData, NoSchema: opts.NoSchema, Tables: opts.Tables}
	}
	for {
		res, err := c.exportStep(ctx, req)
		if err != nil {
			return ExportInfo{}, err
		}
		report(opts.Progress, Progress{Op: "export", Phase: "polling", Status: res.Status, Messages: res.Messages, Total: -1})
		switch res.Status {
		case "complete":
			if res.Result == nil || res.Result.SignedURL == "" {
				return ExportInfo{}, &Error{Op: "export", Statement: -1, Message: "export completed without a signed URL"}
			}
			n, err := c.download(ctx, res.Result.SignedURL, w, opts.Progress)
			if err != nil {
				return ExportInfo{}, err
			}
			report(opts.Progress, Progress{Op: "export", Phase: "complete", Status: "complete", Bytes: n, Total: n})
			return ExportInfo{Bookmark: res.AtBookmark, Filename: res.Result.Filename, Bytes: n}, nil
		case "error":
			return ExportInfo{}, &Error{Op: "export", Statement: -1, Message: "export failed: " + res.Error}
		}
		if res.AtBookmark == "" {
			return ExportInfo{}, &Error{Op: "export", Statement: -1, Message: fmt.Sprintf("export is %q without a bookmark to poll", res.Status)}
		}
		req.CurrentBookmark = res.AtBookmark
		if err := sleep(ctx, opts.PollInterval); err != nil {
			return ExportInfo{}, err
		}
	}
}

func (c *Client) exportStep(ctx context.Context, req wire.ExportRequest) (wire.ExportResponse, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return wire.ExportResponse{}, err
	}
	return admin[wire.ExportResponse](ctx, c, "export", true, func(ctx context.Context, opts ...option.RequestOption) error {
		var p cfd1.DatabaseExportParams
		setField(&p.AccountID.Value, &p.AccountID.Present, c.accountID)
		_, err := c.svc.Export(ctx, c.databaseID, p, append(opts, option.WithRequestBody("application/json", body))...)
		return err
	})
}

// download streams a signed URL into w. Signed URLs carry their own authorization: the API
// token is never sent to them.
func (c *Client) download(ctx context.Context, url string, w io.Writer, progress func(Progress)) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, &Error{Op: "export", Statement: -1, Message: "bad signed URL", Err: err}
	}
	res, err := c.http.Do(req)
	if err != nil {
		return 0, &Error{Op: "export", Statement: -1, Message: "download dump", Err: redactURL(err), Sent: true}
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(res.Body, 1<<16))
		return 0, &Error{Op: "export", Statement: -1, StatusCode: res.StatusCode, Message: "download dump: " + statusText(res.StatusCode), Sent: true}
	}
	pw := &progressWriter{w: w, op: "export", phase: "downloading", total: res.ContentLength, fn: progress}
	n, err := io.Copy(pw, res.Body)
	if err != nil {
		return n, &Error{Op: "export", Statement: -1, Message: "download dump", Err: err, Sent: true}
	}
	if res.ContentLength >= 0 && n != res.ContentLength {
		return n, &Error{Op: "export", Statement: -1, Message: fmt.Sprintf("download dump: got %d of %d bytes", n, res.ContentLength), Sent: true}
	}
	return n, nil
}

// defaultPollInterval is how long Export and Import wait between polls.
const defaultPollInterval = 250 * time.Millisecond

// progressWriter reports at most every 1 MiB.
type progressWriter struct {
	w         io.Writer
	op, phase string
	n, last   int64
	total     int64
	fn        func(Progress)
}

func (p *progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.n += int64(n)
	if p.fn != nil && p.n-p.last >= 1<<20 {
		p.last = p.n
		p.fn(Progress{Op: p.op, Phase: p.phase, Bytes: p.n, Total: p.total})
	}
	return n, err
}

func report(fn func(Progress), p Progress) {
	if fn != nil {
		fn(p)
	}
}
