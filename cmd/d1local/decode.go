package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

func decodeJSON(resp *http.Response, v any) error {
	b, err := io.ReadAll(io.LimitReader(resp.Body, 10<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("list databases: HTTP %d", resp.StatusCode)
	}
	return json.Unmarshal(b, v)
}
