package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/d1seal/d1seal/d1"
)

// chittyContext is a row of the contexts table as the service reads and writes it. The JSON
// array columns (TEXT in D1) travel as JSON, not as strings holding JSON.
type chittyContext struct {
	ChittyID string          `json:"chitty_id"`
	Name     string          `json:"name"`
	Owner    string          `json:"owner_chitty_id"`
	Data     json.RawMessage `json:"data,omitempty"`
	Systems  json.RawMessage `json:"systems,omitempty"`
	Tools    json.RawMessage `json:"tools,omitempty"`
	Status   string          `json:"status,omitempty"`
}

// service is the ChittyConnect API in miniature: it lists, creates and soft-deletes
// contexts. It knows nothing about migrations: the Initializer in front of it does.
type service struct {
	db *d1.Client
}

func (s *service) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /contexts", s.list)
	mux.HandleFunc("POST /contexts", s.create)
	mux.HandleFunc("DELETE /contexts/{id}", s.softDelete)
	return mux
}

// list answers the active contexts, oldest first; soft-deleted ones stay in the table.
func (s *service) list(w http.ResponseWriter, r *http.Request) {
	res, err := s.db.Query(r.Context(), `
		SELECT chitty_id, name, owner_chitty_id, data, systems, tools, status
		FROM contexts WHERE status = 'active' ORDER BY created_at, name`)
	if err != nil {
		http.Error(w, "database unavailable", http.StatusServiceUnavailable)
		return
	}
	out := []chittyContext{}
	for _, row := range res.All() {
		var c chittyContext
		var data, systems, tools string
		if err := row.Scan(&c.ChittyID, &c.Name, &c.Owner, &data, &systems, &tools, &c.Status); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		c.Data, c.Systems, c.Tools = json.RawMessage(data), json.RawMessage(systems), json.RawMessage(tools)
		out = append(out, c)
	}
	writeJSON(w, http.StatusOK, out)
}

// create writes a context, or brings an existing one (same chitty_id) back to the values
// given: so a client may resend it safely. Another context with the same name is a 409.
func (s *service) create(w http.ResponseWriter, r *http.Request) {
	var c chittyContext
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&c); err != nil {
		http.Error(w, "bad JSON: "+err.Error(), http.StatusBadRequest)
		return
	}
	_, err := s.db.Run(r.Context(), d1.Statement{
		SQL: `INSERT INTO contexts (chitty_id, name, owner_chitty_id, data, systems, tools)
			VALUES (?, ?, ?, json(?), json(?), json(?))
			ON CONFLICT (chitty_id) DO UPDATE SET name = excluded.name,
				owner_chitty_id = excluded.owner_chitty_id, data = excluded.data,
				systems = excluded.systems, tools = excluded.tools, status = 'active',
				updated_at = CURRENT_TIMESTAMP`,
		Args:       []any{c.ChittyID, c.Name, c.Owner, jsonOr(c.Data, "[]"), jsonOr(c.Systems, "[]"), jsonOr(c.Tools, "[]")},
		Idempotent: true, // an upsert to absolute values
	})
	switch {
	case d1.IsUniqueViolation(err):
		http.Error(w, fmt.Sprintf("a context named %q already exists", c.Name), http.StatusConflict)
	case d1.IsConstraint(err): // unknown owner, JSON that is not an array
		var de *d1.Error
		errors.As(err, &de)
		http.Error(w, de.Message, http.StatusUnprocessableEntity)
	case err != nil:
		http.Error(w, "database unavailable", http.StatusServiceUnavailable)
	default:
		writeJSON(w, http.StatusCreated, c)
	}
}

// softDelete marks a context deleted: the documented way to retire one, which keeps the row
// (an audit trail) and its connections' references valid.
func (s *service) softDelete(w http.ResponseWriter, r *http.Request) {
	m, err := s.db.Run(r.Context(), d1.Statement{
		SQL:        "UPDATE contexts SET status = 'deleted', updated_at = CURRENT_TIMESTAMP WHERE chitty_id = ? AND status <> 'deleted'",
		Args:       []any{r.PathValue("id")},
		Idempotent: true,
	})
	if err != nil {
		http.Error(w, "database unavailable", http.StatusServiceUnavailable)
		return
	}
	if m.Meta.Changes == 0 {
		http.Error(w, "no active context with that id", http.StatusNotFound)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func jsonOr(v json.RawMessage, def string) string {
	if len(v) == 0 {
		return def
	}
	return string(v)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
