package d1

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	cfd1 "github.com/cloudflare/cloudflare-go/v7/d1"
	"github.com/cloudflare/cloudflare-go/v7/option"

	"github.com/d1seal/d1seal/internal/wire"
)

// ImportOptions tunes Import. The zero value is ready to use.
type ImportOptions struct {
	// PollInterval is the wait between status polls. Default 250 ms.
	PollInterval time.Duration

	// Progress, if set, is called as the import advances.
	Progress func(Progress)
}

// ImportInfo describes a finished import.
type ImportInfo struct {
	// Bookmark is the Time Travel bookmark just after the import: restore to it to return
	// to this point.
	Bookmark   string
	NumQueries int64
	Meta       Meta
}

// Import runs a SQL file (such as an Export dump) against the database through D1's import
// flow: the file's MD5 is announced, the file is uploaded to a signed URL (without the API
// token) and checked against the ETag the storage returns, D1 ingests it, and Import polls
// until D1 reports the result. D1 runs the file as one unit; it must not contain BEGIN or
// COMMIT. A reader that is not an io.ReadSeeker is first spooled to a temporary file.
func (c *Client) Import(ctx context.Context, r io.Reader, opts ImportOptions) (ImportInfo, error) {
	if opts.PollInterval <= 0 {
		opts.PollInterval = defaultPollInterval
	}
	src, size, sum, cleanup, err := spool(r)
	if err != nil {
		return ImportInfo{}, &Error{Op: "import", Statement: -1, Message: "read SQL file", Err: err}
	}
	defer cleanup()
	etag := hex.EncodeToString(sum)

	init, err := c.importStep(ctx, wire.ImportRequest{Action: "init", Etag: etag}, true)
	if err != nil {
		return ImportInfo{}, err
	}
	filename := init.Filename
	if init.UploadURL != "" {
		if err := c.upload(ctx, init.UploadURL, src, size, etag, opts.Progress); err != nil {
			return ImportInfo{}, err
		}
	}
	if filename == "" {
		return ImportInfo{}, &Error{Op: "import", Statement: -1, Message: "D1 gave no filename for the upload"}
	}
	report(opts.Progress, Progress{Op: "import", Phase: "ingesting", Bytes: size, Total: size})
	res, err := c.importStep(ctx, wire.ImportRequest{Action: "ingest", Etag: etag, Filename: filename}, false)
	if err != nil {
		return ImportInfo{}, err
	}
	for {
		report(opts.Progress, Progress{Op: "import", Phase: "ingesting", Status: res.Status, Messages: res.Messages, Bytes: size, Total: size})
		switch res.Status {
		case "complete":
			info := ImportInfo{}
			if res.Result != nil {
				info = ImportInfo{Bookmark: res.Result.FinalBookmark, NumQueries: res.Result.NumQueries, Meta: metaFromWire(&res.Result.Meta)}
			}
			report(opts.Progress, Progress{Op: "import", Phase: "complete", Status: "complete", Bytes: size, Total: size})
			return info, nil
		case "error":
			msg := res.Error
			if msg == "" {
				msg = strings.Join(res.Errors, "; ")
			}
			e := &Error{Op: "import", Statement: -1, Message: trimD1Prefix(msg)}
			e.SQLiteCode, e.ExtendedCode = parseSQLiteCodes(e.Message)
			return ImportInfo{}, e
		}
		if res.AtBookmark == "" {
			return ImportInfo{}, &Error{Op: "import", Statement: -1, Message: fmt.Sprintf("import is %q without a bookmark to poll", res.Status)}
		}
		if err := sleep(ctx, opts.PollInterval); err != nil {
			return ImportInfo{}, err
		}
		if res, err = c.importStep(ctx, wire.ImportRequest{Action: "poll", CurrentBookmark: res.AtBookmark}, true); err != nil {
			return ImportInfo{}, err
		}
	}
}

func (c *Client) importStep(ctx context.Context, req wire.ImportRequest, safe bool) (wire.ImportResponse, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return wire.ImportResponse{}, err
	}
	return admin[wire.ImportResponse](ctx, c, "import", safe, func(ctx context.Context, opts ...option.RequestOption) error {
		var p cfd1.DatabaseImportParams
		setField(&p.AccountID.Value, &p.AccountID.Present, c.accountID)
		p.Body = cfd1.DatabaseImportParamsBody{}
		_, err := c.svc.Import(ctx, c.databaseID, p, append(opts, option.WithRequestBody("application/json", body))...)
		return err
	})
}

// upload PUTs the file to its signed URL and checks that the stored object's ETag is the
// file's MD5, so a corrupted upload is never ingested.
func (c *Client) upload(ctx context.Context, url string, src io.ReadSeeker, size int64, etag string, progress func(Progress)) error {
	if _, err := src.Seek(0, io.SeekStart); err != nil {
		return &Error{Op: "import", Statement: -1, Message: "rewind SQL file", Err: err}
	}
	pr := &progressReader{r: src, total: size, fn: progress}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, url, pr)
	if err != nil {
		return &Error{Op: "import", Statement: -1, Message: "bad upload URL", Err: err}
	}
	req.ContentLength = size
	res, err := c.http.Do(req)
	if err != nil {
		return &Error{Op: "import", Statement: -1, Message: "upload SQL file", Err: redactURL(err), Sent: true}
	}
	defer res.Body.Close()
	io.Copy(io.Discard, io.LimitReader(res.Body, 1<<16))
	if res.StatusCode/100 != 2 {
		return &Error{Op: "import", Statement: -1, StatusCode: res.StatusCode, Message: "upload SQL file: " + statusText(res.StatusCode), Sent: true}
	}
	if got := strings.Trim(res.Header.Get("ETag"), `"`); got != etag {
		return &Error{Op: "import", Statement: -1, StatusCode: res.StatusCode, Sent: true,
			Message: fmt.Sprintf("upload SQL file: storage ETag %q does not match the file's MD5 %q; the upload was corrupted, import again", got, etag)}
	}
	return nil
}

type progressReader struct {
	r       io.Reader
	n, last int64
	total   int64
	fn      func(Progress)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.n += int64(n)
	if p.fn != nil && (p.n-p.last >= 1<<20 || err == io.EOF) {
		p.last = p.n
		p.fn(Progress{Op: "import", Phase: "uploading", Bytes: p.n, Total: p.total})
	}
	return n, err
}

// spool returns r as a seekable source with its size and MD5, copying it to a temporary
// file when r cannot seek.
func spool(r io.Reader) (io.ReadSeeker, int64, []byte, func(), error) {
	h := md5.New()
	if rs, ok := r.(io.ReadSeeker); ok {
		start, err := rs.Seek(0, io.SeekCurrent)
		if err != nil {
			return nil, 0, nil, nil, err
		}
		n, err := io.Copy(h, rs)
		if err != nil {
			return nil, 0, nil, nil, err
		}
		if _, err := rs.Seek(start, io.SeekStart); err != nil {
			return nil, 0, nil, nil, err
		}
		return &offsetSeeker{rs: rs, base: start}, n, h.Sum(nil), func() {}, nil
	}
	f, err := os.CreateTemp("", "d1-import-*.sql")
	if err != nil {
		return nil, 0, nil, nil, err
	}
	cleanup := func() { f.Close(); os.Remove(f.Name()) }
	n, err := io.Copy(io.MultiWriter(f, h), r)
	if err != nil {
		cleanup()
		return nil, 0, nil, nil, err
	}
	return f, n, h.Sum(nil), cleanup, nil
}

// offsetSeeker makes offset base of rs look like offset 0.
type offsetSeeker struct {
	rs   io.ReadSeeker
	base int64
}

func (o *offsetSeeker) Read(b []byte) (int, error) { return o.rs.Read(b) }

func (o *offsetSeeker) Seek(off int64, whence int) (int64, error) {
	if whence == io.SeekStart {
		off += o.base
	}
	n, err := o.rs.Seek(off, whence)
	return n - o.base, err
}
