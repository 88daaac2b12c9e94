package d1local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/d1seal/d1seal/internal/wire"
)

// ListenAndServe serves s on addr (such as "127.0.0.1:8787") until ctx is done, then shuts
// down cleanly. It first creates a database called "default" when s has none, and writes to
// w the base URL and the environment variables that point wrangler and d1seal at it (never
// the token's value). cmd/d1local and `d1seal local` run it.
func ListenAndServe(ctx context.Context, s *Server, addr string, w io.Writer) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	base := "http://" + ln.Addr().String() + "/client/v4"
	id, err := s.defaultDatabase(ctx)
	if err != nil {
		ln.Close()
		return err
	}
	fmt.Fprintf(w, "d1local serving D1's REST API at %s\n\n", base)
	fmt.Fprintf(w, "export CLOUDFLARE_API_BASE_URL=%s\n", base)
	fmt.Fprintf(w, "export CLOUDFLARE_ACCOUNT_ID=%s\n", s.accountID)
	if s.opts.Token == "" {
		fmt.Fprintln(w, "export CLOUDFLARE_API_TOKEN=local # any value: no token is required")
	} else {
		fmt.Fprintln(w, "export CLOUDFLARE_API_TOKEN=<the -token value>")
	}
	fmt.Fprintf(w, "export D1_DATABASE_ID=%s\n", id)

	hs := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// defaultDatabase returns the id of the first database, creating "default" when there is none.
func (s *Server) defaultDatabase(ctx context.Context) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://d1local/client/v4/accounts/"+s.accountID+"/d1/database?per_page=1", nil)
	if err != nil {
		return "", err
	}
	if s.opts.Token != "" {
		req.Header.Set("Authorization", "Bearer "+s.opts.Token)
	}
	resp, err := (&http.Client{Transport: s.Transport()}).Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var list wire.Envelope[[]wire.Database]
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil || !list.Success {
		return "", fmt.Errorf("d1local: list databases: %v", err)
	}
	if len(list.Result) > 0 {
		return list.Result[0].UUID, nil
	}
	return s.CreateDatabase(ctx, "default")
}
