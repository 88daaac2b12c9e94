package d1local_test

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"

	"github.com/cloudflare/cloudflare-go/v7/d1"
	"github.com/cloudflare/cloudflare-go/v7/option"
	"github.com/d1seal/d1seal/d1/d1local"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// set fills one of cloudflare-go's request fields (param.Field, an internal type) as its root
// package's F does. The root package is not imported: it compiles every Cloudflare product
// (over a hundred packages) into this test.
func set[T any](value *T, present *bool, v T) { *value, *present = v, true }

func sqlBody(sql string) d1.DatabaseQueryParamsBody {
	var b d1.DatabaseQueryParamsBody
	set(&b.Sql.Value, &b.Sql.Present, sql)
	return b
}

// TestCloudflareGo drives the local D1 with Cloudflare's own Go SDK over a socket.
func TestCloudflareGo(t *testing.T) {
	srv, err := d1local.New(d1local.Options{Token: "tok"})
	require.NoError(t, err)
	defer srv.Close()
	ts := httptest.NewServer(srv)
	defer ts.Close()
	ctx := context.Background()
	svc := d1.NewDatabaseService(option.WithBaseURL(ts.URL+"/client/v4/"), option.WithAPIToken("tok"), option.WithMaxRetries(0))
	newDB := func(name string) d1.DatabaseNewParams {
		var p d1.DatabaseNewParams
		set(&p.AccountID.Value, &p.AccountID.Present, "acct")
		set(&p.Name.Value, &p.Name.Present, name)
		return p
	}
	var acct d1.DatabaseGetParams
	set(&acct.AccountID.Value, &acct.AccountID.Present, "acct")
	query := func(body d1.DatabaseQueryParamsBodyUnion) d1.DatabaseQueryParams {
		return d1.DatabaseQueryParams{AccountID: acct.AccountID, Body: body}
	}

	db, err := svc.New(ctx, newDB("cfgo"))
	require.NoError(t, err)
	assert.Equal(t, "cfgo", db.Name)
	got, err := svc.Get(ctx, db.UUID, acct)
	require.NoError(t, err)
	assert.Equal(t, db.UUID, got.UUID)

	page, err := svc.Query(ctx, db.UUID, query(sqlBody("CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT); INSERT INTO t(name) VALUES ('a'), ('b')")))
	require.NoError(t, err)
	require.Len(t, page.Result, 2)
	assert.Equal(t, float64(2), page.Result[1].Meta.Changes)
	assert.Equal(t, float64(2), page.Result[1].Meta.LastRowID)

	var single d1.DatabaseQueryParamsBodyD1SingleQuery
	set(&single.Sql.Value, &single.Sql.Present, "SELECT id, name FROM t WHERE name = ?")
	set(&single.Params.Value, &single.Params.Present, []string{"b"})
	page, err = svc.Query(ctx, db.UUID, query(single))
	require.NoError(t, err)
	require.Len(t, page.Result, 1)
	assert.Equal(t, []any{map[string]any{"id": float64(2), "name": "b"}}, page.Result[0].Results)

	var rawBody d1.DatabaseRawParamsBody
	set(&rawBody.Sql.Value, &rawBody.Sql.Present, "SELECT id, name FROM t ORDER BY id")
	raw, err := svc.Raw(ctx, db.UUID, d1.DatabaseRawParams{AccountID: acct.AccountID, Body: rawBody})
	require.NoError(t, err)
	require.Len(t, raw.Result, 1)
	assert.Equal(t, []string{"id", "name"}, raw.Result[0].Results.Columns)
	assert.Len(t, raw.Result[0].Results.Rows, 2)

	batch := make([]d1.DatabaseQueryParamsBodyMultipleQueriesBatch, 2)
	set(&batch[0].Sql.Value, &batch[0].Sql.Present, "INSERT INTO t(name) VALUES (?)")
	set(&batch[0].Params.Value, &batch[0].Params.Present, []string{"c"})
	set(&batch[1].Sql.Value, &batch[1].Sql.Present, "SELECT count(*) AS n FROM t")
	var multi d1.DatabaseQueryParamsBodyMultipleQueries
	set(&multi.Batch.Value, &multi.Batch.Present, batch)
	page, err = svc.Query(ctx, db.UUID, query(multi))
	require.NoError(t, err)
	require.Len(t, page.Result, 2)
	assert.Equal(t, []any{map[string]any{"n": float64(3)}}, page.Result[1].Results)

	// A SQL error comes back as an error carrying D1's message.
	_, err = svc.Query(ctx, db.UUID, query(sqlBody("SELECT * FROM nope")))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no such table: nope: SQLITE_ERROR")

	// Time travel.
	bm, err := svc.TimeTravel.GetBookmark(ctx, db.UUID, d1.DatabaseTimeTravelGetBookmarkParams{AccountID: acct.AccountID})
	require.NoError(t, err)
	require.NotEmpty(t, bm.Bookmark)
	_, err = svc.Query(ctx, db.UUID, query(sqlBody("DELETE FROM t")))
	require.NoError(t, err)
	restore := d1.DatabaseTimeTravelRestoreParams{AccountID: acct.AccountID}
	set(&restore.Bookmark.Value, &restore.Bookmark.Present, bm.Bookmark)
	restored, err := svc.TimeTravel.Restore(ctx, db.UUID, restore)
	require.NoError(t, err)
	assert.NotEmpty(t, restored.PreviousBookmark)
	assert.NotEqual(t, bm.Bookmark, restored.PreviousBookmark)

	// Export.
	export := d1.DatabaseExportParams{AccountID: acct.AccountID}
	set(&export.OutputFormat.Value, &export.OutputFormat.Present, d1.DatabaseExportParamsOutputFormatPolling)
	exp, err := svc.Export(ctx, db.UUID, export)
	require.NoError(t, err)
	for exp.Status != d1.DatabaseExportResponseStatusComplete {
		require.NotEqual(t, d1.DatabaseExportResponseStatusError, exp.Status, exp.Error)
		set(&export.CurrentBookmark.Value, &export.CurrentBookmark.Present, exp.AtBookmark)
		exp, err = svc.Export(ctx, db.UUID, export)
		require.NoError(t, err)
	}
	resp, err := http.Get(exp.Result.SignedURL)
	require.NoError(t, err)
	dump, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Contains(t, string(dump), `INSERT INTO "t" ("id","name") VALUES(3,'c');`)

	// Import the dump into a new database.
	db2, err := svc.New(ctx, newDB("cfgo-copy"))
	require.NoError(t, err)
	sum := md5.Sum(dump)
	etag := hex.EncodeToString(sum[:])
	var initBody d1.DatabaseImportParamsBodyInit
	set(&initBody.Action.Value, &initBody.Action.Present, d1.DatabaseImportParamsBodyInitActionInit)
	set(&initBody.Etag.Value, &initBody.Etag.Present, etag)
	ini, err := svc.Import(ctx, db2.UUID, d1.DatabaseImportParams{AccountID: acct.AccountID, Body: initBody})
	require.NoError(t, err)
	put, err := http.NewRequest(http.MethodPut, ini.UploadURL, strings.NewReader(string(dump)))
	require.NoError(t, err)
	resp, err = http.DefaultClient.Do(put)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, `"`+etag+`"`, resp.Header.Get("ETag"))
	var ingest d1.DatabaseImportParamsBodyIngest
	set(&ingest.Action.Value, &ingest.Action.Present, d1.DatabaseImportParamsBodyIngestActionIngest)
	set(&ingest.Etag.Value, &ingest.Etag.Present, etag)
	set(&ingest.Filename.Value, &ingest.Filename.Present, ini.Filename)
	ing, err := svc.Import(ctx, db2.UUID, d1.DatabaseImportParams{AccountID: acct.AccountID, Body: ingest})
	require.NoError(t, err)
	var pollBody d1.DatabaseImportParamsBodyPoll
	set(&pollBody.Action.Value, &pollBody.Action.Present, d1.DatabaseImportParamsBodyPollActionPoll)
	set(&pollBody.CurrentBookmark.Value, &pollBody.CurrentBookmark.Present, ing.AtBookmark)
	poll, err := svc.Import(ctx, db2.UUID, d1.DatabaseImportParams{AccountID: acct.AccountID, Body: pollBody})
	require.NoError(t, err)
	assert.Equal(t, d1.DatabaseImportResponseStatusComplete, poll.Status)
	page, err = svc.Query(ctx, db2.UUID, query(sqlBody("SELECT group_concat(name) AS names FROM t")))
	require.NoError(t, err)
	assert.Equal(t, []any{map[string]any{"names": "a,b,c"}}, page.Result[0].Results)

	// Unknown database and wrong token.
	_, err = svc.Get(ctx, "00000000-0000-4000-8000-000000000000", acct)
	var apiErr *d1.Error
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 404, apiErr.StatusCode)
	bad := d1.NewDatabaseService(option.WithBaseURL(ts.URL+"/client/v4/"), option.WithAPIToken("wrong"), option.WithMaxRetries(0))
	_, err = bad.Get(ctx, db.UUID, acct)
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 403, apiErr.StatusCode)
}

// TestTestsCompileNoCloudflareRoot keeps "go test ./..." from compiling cloudflare-go's root
// package, which pulls in every Cloudflare product: nothing in this module, tests included,
// may import it (its d1 and option packages are what d1 and this test need).
func TestTestsCompileNoCloudflareRoot(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	out, err := exec.Command(goTool, "list", "-deps", "-test", "github.com/d1seal/d1seal/...").CombinedOutput()
	require.NoError(t, err, "%s", out)
	for _, pkg := range strings.Fields(string(out)) {
		assert.NotEqual(t, "github.com/cloudflare/cloudflare-go/v7", pkg, "a package or test of this module imports cloudflare-go's root package")
	}
}
