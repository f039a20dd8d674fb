package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/greenpass-dcc/greenpass/auth"
)

func TestRequireIssuer(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	v, _ := auth.NewVerifier(key.Public(), nil)
	s := newTestServer(t, nil)
	s.echo.GET("/whoami", func(c echo.Context) error {
		id := Issuer(c)
		return c.String(200, id.Subject+" "+id.Country)
	}, s.RequireIssuer(v))
	good, _ := auth.Sign(key, auth.Identity{Subject: "pharmacy-1", Country: "DE", Roles: []auth.Role{auth.RoleIssueVaccination}}, time.Hour, time.Now())
	expired, _ := auth.Sign(key, auth.Identity{Subject: "pharmacy-1", Country: "DE", Roles: []auth.Role{auth.RoleIssueVaccination}}, time.Hour, time.Now().Add(-3*time.Hour))
	tests := []struct {
		name, header string
		code         int
		body         string
	}{
		{"valid", "Bearer " + good, 200, "pharmacy-1 DE"},
		{"no header", "", 401, ""},
		{"basic auth", "Basic dXNlcjpwYXNz", 401, ""},
		{"empty bearer", "Bearer ", 401, ""},
		{"expired", "Bearer " + expired, 401, ""},
		{"garbage", "Bearer abc.def.ghi", 401, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/whoami", nil)
			if tt.header != "" {
				req.Header.Set("Authorization", tt.header)
			}
			rec := httptest.NewRecorder()
			s.Handler().ServeHTTP(rec, req)
			if rec.Code != tt.code || tt.body != "" && rec.Body.String() != tt.body {
				t.Fatalf("%d %s, want %d %s", rec.Code, rec.Body, tt.code, tt.body)
			}
			if tt.code == http.StatusUnauthorized && rec.Header().Get("WWW-Authenticate") == "" {
				t.Fatal("401 without WWW-Authenticate")
			}
		})
	}
}
