package d1local_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/d1seal/d1seal/d1/d1local"
)

// A local D1 in memory, reached in process through its Transport: the same REST calls a client
// makes to Cloudflare, with D1's answers.
func Example() {
	srv, err := d1local.New(d1local.Options{})
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	id, err := srv.CreateDatabase(context.Background(), "example")
	if err != nil {
		panic(err)
	}
	client := &http.Client{Transport: srv.Transport()}
	url := "https://api.cloudflare.com/client/v4/accounts/any/d1/database/" + id + "/raw"
	for _, body := range []string{
		`{"sql": "CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT)"}`,
		`{"batch": [{"sql": "INSERT INTO notes(body) VALUES (?)", "params": [5]}, {"sql": "SELECT id, body, typeof(body) FROM notes"}]}`,
		`{"sql": "SELECT sqlite_version()"}`,
	} {
		resp, err := client.Post(url, "application/json", strings.NewReader(body))
		if err != nil {
			panic(err)
		}
		var env struct {
			Success bool
			Result  []struct{ Results json.RawMessage }
			Errors  []struct{ Message string }
		}
		err = json.NewDecoder(resp.Body).Decode(&env)
		resp.Body.Close()
		if err != nil {
			panic(err)
		}
		if !env.Success {
			fmt.Println(resp.StatusCode, env.Errors[0].Message)
			continue
		}
		fmt.Print(resp.StatusCode)
		for _, r := range env.Result {
			fmt.Print(" ", string(r.Results))
		}
		fmt.Println()
	}
	// Output:
	// 200 {"columns":[],"rows":[]}
	// 200 {"columns":[],"rows":[]} {"columns":["id","body","typeof(body)"],"rows":[[1,"5.0","text"]]}
	// 400 not authorized to use function: sqlite_version at offset 7: SQLITE_ERROR
}
