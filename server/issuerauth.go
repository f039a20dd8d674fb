package server

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/greenpass-dcc/greenpass/auth"
)

// TokenVerifier checks an issuer's bearer token (auth.Verifier does).
type TokenVerifier interface {
	Verify(token string) (*auth.Identity, error)
}

const identityKey = "greenpass.issuer"

// RequireIssuer admits requests with a valid issuer bearer token and puts
// the identity on the context (Issuer reads it). Every refusal is a 401
// with WWW-Authenticate; the reason goes to the log, not to the caller.
func (s *Server) RequireIssuer(v TokenVerifier) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			h := c.Request().Header.Get(echo.HeaderAuthorization)
			token, ok := strings.CutPrefix(h, "Bearer ")
			if !ok || token == "" {
				c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="greenpass"`)
				return echo.NewHTTPError(http.StatusUnauthorized, "a bearer token is required")
			}
			id, err := v.Verify(token)
			if err != nil {
				s.log.Info("issuer token refused", "request_id", requestID(c), "reason", err)
				c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="greenpass", error="invalid_token"`)
				return echo.NewHTTPError(http.StatusUnauthorized, "invalid or expired token")
			}
			c.Set(identityKey, id)
			return next(c)
		}
	}
}

// Issuer returns the identity RequireIssuer admitted, or nil.
func Issuer(c echo.Context) *auth.Identity {
	id, _ := c.Get(identityKey).(*auth.Identity)
	return id
}
