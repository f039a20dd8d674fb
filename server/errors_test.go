package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/greenpass-dcc/greenpass/hcert"
	"github.com/greenpass-dcc/greenpass/issuer"
	"github.com/greenpass-dcc/greenpass/wallet"
)

// Every row of the table, wrapped as a domain package returns it, comes
// out with its status and code through the real error handler.
func TestErrorTable(t *testing.T) {
	s := &Server{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	e := echo.New()
	answer := func(err error) (int, errorAnswer) {
		rec := httptest.NewRecorder()
		c := e.NewContext(httptest.NewRequest(http.MethodPost, "/x", nil), rec)
		c.Response().Header().Set(echo.HeaderXRequestID, "rid-1")
		s.errorHandler(err, c)
		var body errorAnswer
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("body %q: %v", rec.Body.String(), err)
		}
		if body.RequestID != "rid-1" {
			t.Errorf("request_id = %q", body.RequestID)
		}
		return rec.Code, body
	}
	for _, r := range errorTable {
		t.Run(r.code, func(t *testing.T) {
			status, body := answer(fmt.Errorf("context: %w", r.err))
			if status != r.status || body.Code != r.code || body.Error == "" {
				t.Fatalf("%v: %d %+v, want %d %s", r.err, status, body, r.status, r.code)
			}
		})
	}
	cases := []struct {
		name   string
		err    error
		status int
		code   string
		msg    string
	}{
		{"schema", hcert.SchemaError{{Field: "nam.fnt", Problem: "required"}}, 422, "INVALID_CERTIFICATE_DATA", "the certificate data is invalid"},
		{"http error", echo.NewHTTPError(http.StatusUnsupportedMediaType, "send JSON"), 415, "", "send JSON"},
		{"unknown", errors.New("disk on fire"), 500, "INTERNAL", "internal error"},
		{"transfer field", fmt.Errorf("transfer.testId: %w", wallet.ErrNoKey), 404, "NO_DEVICE_KEY", "transfer.testId: no device key registered for this test"},
		{"fixed message", fmt.Errorf("lookup %s: %w", "x", issuer.ErrNotFound), 404, "CERTIFICATE_NOT_FOUND", "no certificate of yours has this UVCI"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := answer(tc.err)
			if status != tc.status || body.Code != tc.code || body.Error != tc.msg {
				t.Fatalf("%d %+v, want %d %s %q", status, body, tc.status, tc.code, tc.msg)
			}
			if strings.Contains(body.Error, "disk on fire") {
				t.Fatal("the cause of a 500 reached the client")
			}
		})
	}
	// Codes are distinct per meaning: a client branches on them.
	seen := map[string]error{}
	for _, r := range errorTable {
		if prev, ok := seen[r.code]; ok && r.code != "CANCELLED" {
			t.Errorf("code %s used for %v and %v", r.code, prev, r.err)
		}
		seen[r.code] = r.err
	}
}
