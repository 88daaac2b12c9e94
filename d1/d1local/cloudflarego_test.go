package d1local_test

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cloudflare/cloudflare-go/v7"
	"github.com/cloudflare/cloudflare-go/v7/d1"
	"github.com/cloudflare/cloudflare-go/v7/option"
	"github.com/d1seal/d1seal/d1/d1local"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCloudflareGo drives the local D1 with Cloudflare's own Go SDK over a socket.
func TestCloudflareGo(t *testing.T) {
	srv, err := d1local.New(d1local.Options{Token: "tok"})
	require.NoError(t, err)
	defer srv.Close()
	ts := httptest.NewServer(srv)
	defer ts.Close()
	ctx := context.Background()
	svc := d1.NewDatabaseService(option.WithBaseURL(ts.URL+"/client/v4/"), option.WithAPIToken("tok"), option.WithMaxRetries(0))
	acct := cloudflare.F("acct")

	db, err := svc.New(ctx, d1.DatabaseNewParams{AccountID: acct, Name: cloudflare.F("cfgo")})
	require.NoError(t, err)
	assert.Equal(t, "cfgo", db.Name)
	got, err := svc.Get(ctx, db.UUID, d1.DatabaseGetParams{AccountID: acct})
	require.NoError(t, err)
	assert.Equal(t, db.UUID, got.UUID)

	page, err := svc.Query(ctx, db.UUID, d1.DatabaseQueryParams{AccountID: acct, Body: d1.DatabaseQueryParamsBody{
		Sql: cloudflare.F("CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT); INSERT INTO t(name) VALUES ('a'), ('b')"),
	}})
	require.NoError(t, err)
	require.Len(t, page.Result, 2)
	assert.Equal(t, float64(2), page.Result[1].Meta.Changes)
	assert.Equal(t, float64(2), page.Result[1].Meta.LastRowID)

	page, err = svc.Query(ctx, db.UUID, d1.DatabaseQueryParams{AccountID: acct, Body: d1.DatabaseQueryParamsBodyD1SingleQuery{
		Sql: cloudflare.F("SELECT id, name FROM t WHERE name = ?"), Params: cloudflare.F([]string{"b"}),
	}})
	require.NoError(t, err)
	require.Len(t, page.Result, 1)
	assert.Equal(t, []any{map[string]any{"id": float64(2), "name": "b"}}, page.Result[0].Results)

	raw, err := svc.Raw(ctx, db.UUID, d1.DatabaseRawParams{AccountID: acct, Body: d1.DatabaseRawParamsBody{
		Sql: cloudflare.F("SELECT id, name FROM t ORDER BY id"),
	}})
	require.NoError(t, err)
	require.Len(t, raw.Result, 1)
	assert.Equal(t, []string{"id", "name"}, raw.Result[0].Results.Columns)
	assert.Len(t, raw.Result[0].Results.Rows, 2)

	page, err = svc.Query(ctx, db.UUID, d1.DatabaseQueryParams{AccountID: acct, Body: d1.DatabaseQueryParamsBodyMultipleQueries{
		Batch: cloudflare.F([]d1.DatabaseQueryParamsBodyMultipleQueriesBatch{
			{Sql: cloudflare.F("INSERT INTO t(name) VALUES (?)"), Params: cloudflare.F([]string{"c"})},
			{Sql: cloudflare.F("SELECT count(*) AS n FROM t")},
		}),
	}})
	require.NoError(t, err)
	require.Len(t, page.Result, 2)
	assert.Equal(t, []any{map[string]any{"n": float64(3)}}, page.Result[1].Results)

	// A SQL error comes back as an error carrying D1's message.
	_, err = svc.Query(ctx, db.UUID, d1.DatabaseQueryParams{AccountID: acct, Body: d1.DatabaseQueryParamsBody{Sql: cloudflare.F("SELECT * FROM nope")}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no such table: nope: SQLITE_ERROR")

	// Time travel.
	bm, err := svc.TimeTravel.GetBookmark(ctx, db.UUID, d1.DatabaseTimeTravelGetBookmarkParams{AccountID: acct})
	require.NoError(t, err)
	require.NotEmpty(t, bm.Bookmark)
	_, err = svc.Query(ctx, db.UUID, d1.DatabaseQueryParams{AccountID: acct, Body: d1.DatabaseQueryParamsBody{Sql: cloudflare.F("DELETE FROM t")}})
	require.NoError(t, err)
	restored, err := svc.TimeTravel.Restore(ctx, db.UUID, d1.DatabaseTimeTravelRestoreParams{AccountID: acct, Bookmark: cloudflare.F(bm.Bookmark)})
	require.NoError(t, err)
	assert.NotEmpty(t, restored.PreviousBookmark)
	assert.NotEqual(t, bm.Bookmark, restored.PreviousBookmark)

	// Export.
	exp, err := svc.Export(ctx, db.UUID, d1.DatabaseExportParams{AccountID: acct, OutputFormat: cloudflare.F(d1.DatabaseExportParamsOutputFormatPolling)})
	require.NoError(t, err)
	for exp.Status != d1.DatabaseExportResponseStatusComplete {
		require.NotEqual(t, d1.DatabaseExportResponseStatusError, exp.Status, exp.Error)
		exp, err = svc.Export(ctx, db.UUID, d1.DatabaseExportParams{AccountID: acct, OutputFormat: cloudflare.F(d1.DatabaseExportParamsOutputFormatPolling), CurrentBookmark: cloudflare.F(exp.AtBookmark)})
		require.NoError(t, err)
	}
	resp, err := http.Get(exp.Result.SignedURL)
	require.NoError(t, err)
	dump, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Contains(t, string(dump), `INSERT INTO "t" ("id","name") VALUES(3,'c');`)

	// Import the dump into a new database.
	db2, err := svc.New(ctx, d1.DatabaseNewParams{AccountID: acct, Name: cloudflare.F("cfgo-copy")})
	require.NoError(t, err)
	sum := md5.Sum(dump)
	etag := hex.EncodeToString(sum[:])
	ini, err := svc.Import(ctx, db2.UUID, d1.DatabaseImportParams{AccountID: acct, Body: d1.DatabaseImportParamsBodyInit{
		Action: cloudflare.F(d1.DatabaseImportParamsBodyInitActionInit), Etag: cloudflare.F(etag),
	}})
	require.NoError(t, err)
	put, err := http.NewRequest(http.MethodPut, ini.UploadURL, strings.NewReader(string(dump)))
	require.NoError(t, err)
	resp, err = http.DefaultClient.Do(put)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, `"`+etag+`"`, resp.Header.Get("ETag"))
	ing, err := svc.Import(ctx, db2.UUID, d1.DatabaseImportParams{AccountID: acct, Body: d1.DatabaseImportParamsBodyIngest{
		Action: cloudflare.F(d1.DatabaseImportParamsBodyIngestActionIngest), Etag: cloudflare.F(etag), Filename: cloudflare.F(ini.Filename),
	}})
	require.NoError(t, err)
	poll, err := svc.Import(ctx, db2.UUID, d1.DatabaseImportParams{AccountID: acct, Body: d1.DatabaseImportParamsBodyPoll{
		Action: cloudflare.F(d1.DatabaseImportParamsBodyPollActionPoll), CurrentBookmark: cloudflare.F(ing.AtBookmark),
	}})
	require.NoError(t, err)
	assert.Equal(t, d1.DatabaseImportResponseStatusComplete, poll.Status)
	page, err = svc.Query(ctx, db2.UUID, d1.DatabaseQueryParams{AccountID: acct, Body: d1.DatabaseQueryParamsBody{Sql: cloudflare.F("SELECT group_concat(name) AS names FROM t")}})
	require.NoError(t, err)
	assert.Equal(t, []any{map[string]any{"names": "a,b,c"}}, page.Result[0].Results)

	// Unknown database and wrong token.
	_, err = svc.Get(ctx, "00000000-0000-4000-8000-000000000000", d1.DatabaseGetParams{AccountID: acct})
	var apiErr *cloudflare.Error
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 404, apiErr.StatusCode)
	bad := d1.NewDatabaseService(option.WithBaseURL(ts.URL+"/client/v4/"), option.WithAPIToken("wrong"), option.WithMaxRetries(0))
	_, err = bad.Get(ctx, db.UUID, d1.DatabaseGetParams{AccountID: acct})
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 403, apiErr.StatusCode)
}
