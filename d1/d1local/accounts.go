package d1local

import (
	"net/http"
	"strconv"
)

// DefaultAccountID is the account GET /accounts and GET /memberships answer when
// Options.AccountID is empty. Every other route accepts any account id.
const DefaultAccountID = "d10ca1d10ca1d10ca1d10ca1d10ca100"

// accountName is the name the one account is listed under.
const accountName = "d1local"

// handleAccounts serves GET /accounts: one account, the server's. wrangler asks for it (and for
// /memberships) when CLOUDFLARE_ACCOUNT_ID is not set, and uses the account the two lists share.
func (s *Server) handleAccounts(w http.ResponseWriter, r *http.Request) {
	s.listOne(w, r, map[string]any{"id": s.accountID, "name": accountName, "type": "standard"})
}

// handleMemberships serves GET /memberships: the token's membership of the server's account.
func (s *Server) handleMemberships(w http.ResponseWriter, r *http.Request) {
	s.listOne(w, r, map[string]any{
		"id":          "d1local-membership",
		"status":      "accepted",
		"account":     map[string]any{"id": s.accountID, "name": accountName},
		"roles":       []string{"Administrator"},
		"permissions": map[string]any{},
	})
}

// listOne answers a paged Cloudflare list holding one item (on page 1).
func (s *Server) listOne(w http.ResponseWriter, r *http.Request, item any) {
	if r.Method != http.MethodGet {
		writeError(w, errMethod())
		return
	}
	page, perPage := 1, 20
	for name, p := range map[string]*int{"page": &page, "per_page": &perPage} {
		if v := r.URL.Query().Get(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				writeError(w, errBadRequest("%s must be a positive integer", name))
				return
			}
			*p = n
		}
	}
	items := []any{}
	if page == 1 {
		items = append(items, item)
	}
	type resultInfo struct {
		Page       int `json:"page"`
		PerPage    int `json:"per_page"`
		Count      int `json:"count"`
		TotalCount int `json:"total_count"`
		TotalPages int `json:"total_pages"`
	}
	writeJSON(w, http.StatusOK, struct {
		Result     []any      `json:"result"`
		ResultInfo resultInfo `json:"result_info"`
		Success    bool       `json:"success"`
		Errors     []any      `json:"errors"`
		Messages   []any      `json:"messages"`
	}{items, resultInfo{page, perPage, len(items), 1, 1}, true, []any{}, []any{}})
}
