package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/greenpass-dcc/greenpass/admission"
	"github.com/greenpass-dcc/greenpass/auth"
	"github.com/greenpass-dcc/greenpass/wallet"
)

// TransferService is the certificate transfer (wallet.Service).
type TransferService interface {
	RegistrationToken(ctx context.Context, testID string) (string, bool, error)
	RegisterKey(ctx context.Context, token, publicKey string) (bool, error)
	Pickup(ctx context.Context, token string, admit func() error) (dek, dcc []byte, err error)
	ClaimLab(ctx context.Context, p wallet.Partner, labID string) (int, error)
	AnnounceResults(ctx context.Context, p wallet.Partner, labID string, results []wallet.TestResult) error
	SearchLab(ctx context.Context, p wallet.Partner, labID string) ([]wallet.PendingKey, error)
	UploadFromLab(ctx context.Context, p wallet.Partner, testID string, up wallet.LabUpload) (string, error)
}

// Transfer configures the transfer endpoints.
type Transfer struct {
	Service TransferService
	Tokens  TokenVerifier
	// Suspensions refuse suspended issuers on the lab endpoints (403);
	// nil: none.
	Suspensions SuspensionChecker
	// Polls limits pickups per registration token (429 beyond); nil: no
	// limit.
	Polls *admission.Rates
	// RetryAfter is what a pending pickup is told to wait (10 s, as the
	// app's default).
	RetryAfter int
}

// maxTransferBody is the contract's request size limit.
const maxTransferBody = 10000

// MountTransfer adds the CWA DCC-server contract. App-facing, no
// authentication:
//
//	POST /version/v1/registrationToken   {key, keyType: GUID} → 201 {registrationToken}
//	POST /version/v1/publicKey           {registrationToken, publicKey} → 201, or 200 for the same key again
//	POST /version/v1/dcc                 {registrationToken} → 200 {dek, dcc} / 202 / 404 / 410
//
// Lab-facing, an issuer token with the role issue:t instead of the
// original's mutual TLS:
//
//	POST /version/v1/labId                      {labId} → 204, X-CWA-REMAINING-LAB-ID
//	GET  /version/v1/publicKey/search/{labId}   → [{testId, dcci, publicKey}]
//	POST /version/v1/test/{testId}/dcc          {dccHash, encryptedDcc, dataEncryptionKey} → 200 {partialDcc}
//	POST /api/v1/quicktest/results              {labId, testResults: [{id, result}]} → 204 (the test-result server's call)
func (s *Server) MountTransfer(cfg Transfer) {
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = 10
	}
	h := &transferHandler{cfg: cfg, refused: prometheus.NewCounter(prometheus.CounterOpts{
		Name: "greenpass_pickup_refused_total", Help: "Certificate pickups refused by the per-token poll limit (429).",
	})}
	s.registry.MustRegister(h.refused)
	app := s.echo.Group("/version/v1")
	app.POST("/registrationToken", h.registrationToken)
	app.POST("/publicKey", h.publicKey)
	app.POST("/dcc", h.pickup)
	s.quiet["/version/v1/dcc"] = true
	s.bare["/version/v1/dcc"] = true

	// Route-level middleware: a group on "" would take over every
	// unmatched path and answer 401 instead of 404.
	labAuth := []echo.MiddlewareFunc{s.RequireIssuer(cfg.Tokens), refuseSuspended(cfg.Suspensions), requireRole(auth.RoleIssueTest)}
	s.echo.POST("/version/v1/labId", h.claimLab, labAuth...)
	s.echo.GET("/version/v1/publicKey/search/:labId", h.search, labAuth...)
	s.echo.POST("/version/v1/test/:testId/dcc", h.upload, labAuth...)
	s.echo.POST("/api/v1/quicktest/results", h.results, labAuth...)
}

// requireRole refuses identities without the role (403).
func requireRole(role auth.Role) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if id := Issuer(c); id == nil || !id.Has(role) {
				return echo.NewHTTPError(http.StatusForbidden, "this endpoint needs the role "+string(role))
			}
			return next(c)
		}
	}
}

type transferHandler struct {
	cfg     Transfer
	refused prometheus.Counter
}

// readBody reads the request body up to limit bytes: 413 with tooLarge
// beyond it, 400 when it cannot be read.
func readBody(c echo.Context, limit int64, tooLarge string) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(c.Response(), c.Request().Body, limit))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return nil, echo.NewHTTPError(http.StatusRequestEntityTooLarge, tooLarge)
	case err != nil:
		return nil, echo.NewHTTPError(http.StatusBadRequest, "could not read the body")
	}
	return body, nil
}

// decode reads a JSON body of the contract's size; unknown fields (the
// apps' padding) are ignored.
func decode(c echo.Context, v any) error {
	body, err := readBody(c, maxTransferBody, "the body is larger than 10,000 bytes")
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, v); err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "the body is not the expected JSON object")
	}
	return nil
}

func (h *transferHandler) registrationToken(c echo.Context) error {
	var req struct {
		Key     string `json:"key"`
		KeyType string `json:"keyType"`
	}
	if err := decode(c, &req); err != nil {
		return err
	}
	if req.KeyType != "GUID" {
		return echo.NewHTTPError(http.StatusBadRequest, `keyType must be "GUID" (teleTANs are not issued here)`)
	}
	token, _, err := h.cfg.Service.RegistrationToken(c.Request().Context(), req.Key)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, map[string]string{"registrationToken": token})
}

func (h *transferHandler) publicKey(c echo.Context) error {
	var req struct {
		RegistrationToken string `json:"registrationToken"`
		PublicKey         string `json:"publicKey"`
	}
	if err := decode(c, &req); err != nil {
		return err
	}
	created, err := h.cfg.Service.RegisterKey(c.Request().Context(), req.RegistrationToken, req.PublicKey)
	if err != nil {
		return err
	}
	if !created {
		return c.NoContent(http.StatusOK)
	}
	return c.NoContent(http.StatusCreated)
}

// errPollLimit is the pickup's poll limit refusing, answered 429 here.
var errPollLimit = errors.New("poll limit")

func (h *transferHandler) pickup(c echo.Context) error {
	var req struct {
		RegistrationToken string `json:"registrationToken"`
	}
	if err := decode(c, &req); err != nil {
		return err
	}
	// The poll limit counts only tokens that exist (the service asks once
	// the token resolves): random tokens cannot crowd a real one out of
	// the limiter's table.
	var wait time.Duration
	dek, dcc, err := h.cfg.Service.Pickup(c.Request().Context(), req.RegistrationToken, func() error {
		ok, w, _ := h.cfg.Polls.Allow(req.RegistrationToken)
		if !ok {
			wait = w
			return errPollLimit
		}
		return nil
	})
	if errors.Is(err, errPollLimit) {
		h.refused.Inc()
		c.Response().Header().Set("Retry-After", retryAfter(wait))
		return echo.NewHTTPError(http.StatusTooManyRequests, "polling too often for this token; retry after the Retry-After seconds")
	}
	if errors.Is(err, wallet.ErrPending) {
		c.Response().Header().Set("Retry-After", strconv.Itoa(h.cfg.RetryAfter))
		return c.NoContent(http.StatusAccepted)
	}
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, map[string]string{
		"dek": base64.StdEncoding.EncodeToString(dek),
		"dcc": base64.StdEncoding.EncodeToString(dcc),
	})
}

func partner(c echo.Context) wallet.Partner {
	id := Issuer(c)
	return wallet.Partner{ID: id.Subject, Country: id.Country}
}

func (h *transferHandler) claimLab(c echo.Context) error {
	var req struct {
		LabID string `json:"labId"`
	}
	if err := decode(c, &req); err != nil {
		return err
	}
	left, err := h.cfg.Service.ClaimLab(c.Request().Context(), partner(c), req.LabID)
	if errors.Is(err, wallet.ErrLabTaken) {
		// The contract answers a taken lab id with 409 where it is
		// claimed; everywhere else the table's 403 holds.
		return echo.NewHTTPError(http.StatusConflict, err.Error())
	}
	if err != nil {
		return err
	}
	c.Response().Header().Set("X-CWA-REMAINING-LAB-ID", strconv.Itoa(left))
	return c.NoContent(http.StatusNoContent)
}

func (h *transferHandler) search(c echo.Context) error {
	keys, err := h.cfg.Service.SearchLab(c.Request().Context(), partner(c), c.Param("labId"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, keys)
}

func (h *transferHandler) upload(c echo.Context) error {
	var req wallet.LabUpload
	if err := decode(c, &req); err != nil {
		return err
	}
	partial, err := h.cfg.Service.UploadFromLab(c.Request().Context(), partner(c), c.Param("testId"), req)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]string{"partialDcc": partial})
}

func (h *transferHandler) results(c echo.Context) error {
	var req struct {
		LabID       string `json:"labId"`
		TestResults []struct {
			ID     string `json:"id"`
			Result int    `json:"result"`
		} `json:"testResults"`
	}
	if err := decode(c, &req); err != nil {
		return err
	}
	results := make([]wallet.TestResult, 0, len(req.TestResults))
	for _, r := range req.TestResults {
		results = append(results, wallet.TestResult{ID: r.ID, Result: r.Result})
	}
	if err := h.cfg.Service.AnnounceResults(c.Request().Context(), partner(c), req.LabID, results); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
