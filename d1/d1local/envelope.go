package d1local

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/d1seal/d1seal/internal/wire"
)

// apiError is a failure answered with Cloudflare's error envelope.
type apiError struct {
	status     int
	code       int
	msg        string
	retryAfter time.Duration // sent as Retry-After when non-zero
}

func (e *apiError) Error() string { return e.msg }

// Errors the handler answers with, shaped as Cloudflare's API answers them.
func errBadRequest(format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, code: wire.CodeInvalidInput, msg: "The request is malformed: " + fmt.Sprintf(format, args...)}
}

func errSQL(msg string) *apiError {
	return &apiError{status: http.StatusBadRequest, code: wire.CodeSQL, msg: msg}
}

func errNotFound() *apiError {
	return &apiError{status: http.StatusNotFound, code: wire.CodeNotFound, msg: "The database could not be found or is not authorized for this account."}
}

func errRouteNotFound() *apiError {
	return &apiError{status: http.StatusNotFound, code: 7003, msg: "Could not route to the requested path, perhaps your object identifier is invalid?"}
}

func errMethod() *apiError {
	return &apiError{status: http.StatusMethodNotAllowed, code: 10405, msg: "Method not allowed"}
}

func errInternal(ref string) *apiError {
	return &apiError{status: http.StatusInternalServerError, code: wire.CodeInternal, msg: "internal error; reference = " + ref}
}

// sqlErrorMessage formats an SQLite error as D1 does: the message, " at offset N" when SQLite
// knows where in the statement it failed, then ": SQLITE_<CLASS>" and, when the extended code
// differs from the primary one, " (extended: SQLITE_<CLASS>_<DETAIL>)".
func sqlErrorMessage(e *sqliteError) string {
	msg := e.Msg
	if e.Offset >= 0 {
		msg += " at offset " + strconv.Itoa(int(e.Offset))
	}
	primary := e.Code & 0xff
	msg += ": " + codeName(primary)
	if e.Code != primary {
		msg += " (extended: " + codeName(e.Code) + ")"
	}
	return msg
}

func codeName(code int32) string {
	if n, ok := resultCodeNames[code]; ok {
		return n
	}
	return "SQLITE_UNKNOWN_" + strconv.Itoa(int(code))
}

// asAPIError turns an execution error into the answer D1 gives: SQLite's errors and D1's own
// refusals are 400/7500.
func asAPIError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	var se *sqliteError
	if errors.As(err, &se) {
		return errSQL(sqlErrorMessage(se))
	}
	return errSQL(err.Error())
}

// writeResult writes a successful envelope around result.
func writeResult(w http.ResponseWriter, result any, info *wire.ResultInfo) {
	writeJSON(w, http.StatusOK, wire.Envelope[any]{
		Result:     result,
		ResultInfo: info,
		Success:    true,
		Errors:     []wire.Message{},
		Messages:   []wire.Message{},
	})
}

// writeError writes Cloudflare's error envelope for e.
func writeError(w http.ResponseWriter, e *apiError) {
	if e.retryAfter > 0 {
		secs := int64((e.retryAfter + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	}
	writeJSON(w, e.status, wire.Envelope[any]{
		Result:   nil,
		Success:  false,
		Errors:   []wire.Message{{Code: e.code, Message: e.msg}},
		Messages: []wire.Message{},
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"result":null,"success":false,"errors":[{"code":7000,"message":"internal error"}],"messages":[]}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
