package server

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/greenpass-dcc/greenpass/auth"
	"github.com/greenpass-dcc/greenpass/issuer"
)

// IssuerAdmin is the operator's control of issuers (issuer.Service).
type IssuerAdmin interface {
	Suspend(ctx context.Context, admin, issuerID, reason string) (issuer.Suspension, bool, error)
	Lift(ctx context.Context, admin, issuerID string) (bool, error)
	RevokeWindow(ctx context.Context, admin, issuerID string, from, to time.Time) (issuer.WindowRevocation, error)
}

// SuspensionChecker says whether an issuer is suspended (issuer.Service).
type SuspensionChecker interface {
	Suspended(issuerID string) bool
}

// Admin configures the operator's API.
type Admin struct {
	Service IssuerAdmin
	Tokens  TokenVerifier
}

// MountAdmin adds the operator's API, for tokens with the role admin:
//
//	POST   /api/v1/issuers/{sub}/suspension    {reason} → 201 (200: suspended before)
//	DELETE /api/v1/issuers/{sub}/suspension    → 204 (also when there was none)
//	POST   /api/v1/issuers/{sub}/revocations   {from, to} (RFC 3339) → 200 {revoked, previous}
//
// A suspended issuer's tokens get 403 ISSUER_SUSPENDED on every issuing
// and lab endpoint: at once on this instance, within the refresh interval
// on the others.
func (s *Server) MountAdmin(cfg Admin) {
	h := &adminHandler{cfg: cfg}
	mw := []echo.MiddlewareFunc{s.RequireIssuer(cfg.Tokens), requireRole(auth.RoleAdmin)}
	s.echo.POST("/api/v1/issuers/:sub/suspension", h.suspend, mw...)
	s.echo.DELETE("/api/v1/issuers/:sub/suspension", h.lift, mw...)
	s.echo.POST("/api/v1/issuers/:sub/revocations", h.revokeWindow, mw...)
}

// refuseSuspended refuses the identities of suspended issuers; it runs
// after RequireIssuer.
func refuseSuspended(sc SuspensionChecker) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if id := Issuer(c); sc != nil && id != nil && sc.Suspended(id.Subject) {
				return issuer.ErrSuspended
			}
			return next(c)
		}
	}
}

type adminHandler struct{ cfg Admin }

// subject is the issuer id in the path, unescaped as the UVCI is.
func subject(c echo.Context) (string, error) {
	sub, err := url.PathUnescape(c.Param("sub"))
	if err != nil {
		return "", echo.NewHTTPError(http.StatusBadRequest, "malformed issuer id in the path")
	}
	return sub, nil
}

func (h *adminHandler) suspend(c echo.Context) error {
	var req struct {
		Reason string `json:"reason"`
	}
	if c.Request().ContentLength != 0 {
		if err := decode(c, &req); err != nil {
			return err
		}
	}
	sub, err := subject(c)
	if err != nil {
		return err
	}
	sus, created, err := h.cfg.Service.Suspend(c.Request().Context(), Issuer(c).Subject, sub, req.Reason)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return c.JSON(status, sus)
}

func (h *adminHandler) lift(c echo.Context) error {
	sub, err := subject(c)
	if err != nil {
		return err
	}
	if _, err := h.cfg.Service.Lift(c.Request().Context(), Issuer(c).Subject, sub); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (h *adminHandler) revokeWindow(c echo.Context) error {
	var req struct {
		From time.Time `json:"from"`
		To   time.Time `json:"to"`
	}
	if err := decode(c, &req); err != nil {
		return err
	}
	sub, err := subject(c)
	if err != nil {
		return err
	}
	res, err := h.cfg.Service.RevokeWindow(c.Request().Context(), Issuer(c).Subject, sub, req.From, req.To)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, res)
}
