package server

import (
	"context"
	"encoding/base64"
	"errors"
	"math"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/greenpass-dcc/greenpass/admission"
	"github.com/greenpass-dcc/greenpass/auth"
	"github.com/greenpass-dcc/greenpass/hcert"
	"github.com/greenpass-dcc/greenpass/issuer"
	"github.com/greenpass-dcc/greenpass/render"
	"github.com/greenpass-dcc/greenpass/valueset"
)

// CertificateIssuer issues certificates and answers for them
// (issuer.Service).
type CertificateIssuer interface {
	Issue(ctx context.Context, who issuer.Issuer, req *issuer.Request, idempotencyKey string) (*issuer.Issued, error)
	Lookup(ctx context.Context, issuerID, uvci string) (*issuer.Audit, error)
	Revoke(ctx context.Context, issuerID, uvci string) (*issuer.Revocation, bool, error)
	Issued(ctx context.Context, issuerID, country string, from, to time.Time, cursor string, limit int) (issuer.Page, error)
}

// Issuance configures the issuing API.
type Issuance struct {
	Service CertificateIssuer
	Tokens  TokenVerifier
	// Suspensions refuse suspended issuers (403); nil: none.
	Suspensions SuspensionChecker
	// Gate bounds concurrent issuance (admission control); nil admits all.
	Gate *admission.Gate
	// Rates limit each issuer's request rate; nil means no limit.
	Rates *admission.Rates
	// Backoff advises the Retry-After of the gate's refusals (one
	// following the gate's refusals when nil).
	Backoff *admission.Backoff
	// ValueSets name coded values on the printout.
	ValueSets valueset.Sets
	// QRScale is the PNG's pixels per module (6 when zero).
	QRScale int
}

// Response formats of POST /api/v1/certificates, by Accept.
const (
	mimeJSON = "application/json"
	mimePNG  = "image/png"
	mimePDF  = "application/pdf"
	mimeText = "text/plain"
)

var issueFormats = []string{mimeJSON, mimePNG, mimePDF, mimeText}

// admissionMetrics count refusals by cause and show the gate's state.
type admissionMetrics struct {
	refused *prometheus.CounterVec
	// issued counts certificates made (not replays), by type.
	issued *prometheus.CounterVec
}

// MountIssuance adds the issuing API:
//
//	POST /api/v1/certificates          issue (JSON, PNG, PDF or text by Accept)
//	GET  /api/v1/certificates?from=&to=&cursor=&limit=   the issuer's own audit records, oldest first, paged
//	GET  /api/v1/certificates/{uvci}   the audit record, to the issuer that made it
//	POST /api/v1/certificates/{uvci}/revoke   revoke it (201; 200 when revoked before)
//
// Both need an issuer token. Issuing passes the issuer's rate limit (429)
// and the gate (503) before any body is read; both refusals carry
// Retry-After.
func (s *Server) MountIssuance(cfg Issuance) {
	if cfg.QRScale == 0 {
		cfg.QRScale = 6
	}
	m := admissionMetrics{refused: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "greenpass_issuance_refused_total",
		Help: "Issuance requests refused before any work, by reason (rate: 429, busy: 503).",
	}, []string{"reason"}), issued: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "greenpass_certificates_issued_total",
		Help: "Certificates issued (idempotent replays not counted), by type (v, t, r) and issuer class (the token's class claim; unspecified without one).",
	}, []string{"type", "class"})}
	s.registry.MustRegister(m.refused, m.issued)
	if g := cfg.Gate; g != nil {
		if cfg.Backoff == nil {
			cfg.Backoff = admission.NewBackoff(g, nil, nil)
		}
		b := cfg.Backoff
		s.registry.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "greenpass_issuance_in_flight", Help: "Issuance requests being worked on."},
				func() float64 { return float64(g.InFlight()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "greenpass_issuance_waiting", Help: "Issuance requests queued for a slot."},
				func() float64 { return float64(g.Waiting()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "greenpass_issuance_limit",
				Help: "Issuance requests admitted at once now (lowered while the CPU is saturated, up to --max-inflight)."},
				func() float64 { return float64(g.Limit()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "greenpass_issuance_retry_after_max_seconds",
				Help: "Longest Retry-After given to requests refused as busy now (1 to this, at random; longer while refusals exceed a tenth of admissions)."},
				func() float64 { return float64(b.Spread()) }),
		)
	}
	h := &issueHandler{cfg: cfg, log: s, metrics: m}
	g := s.echo.Group("/api/v1/certificates", s.RequireIssuer(cfg.Tokens), refuseSuspended(cfg.Suspensions))
	g.POST("", h.issue, h.admit)
	g.GET("", h.list)
	g.GET("/:uvci", h.lookup)
	g.POST("/:uvci/revoke", h.revoke)
}

type issueHandler struct {
	cfg     Issuance
	log     *Server
	metrics admissionMetrics
}

// admit applies the issuer's rate limit and then the gate; the slot is
// held until the response is written.
func (h *issueHandler) admit(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := Issuer(c)
		ok, wait, undo := h.cfg.Rates.Allow(id.Subject)
		if !ok {
			h.metrics.refused.WithLabelValues("rate").Inc()
			c.Response().Header().Set("Retry-After", retryAfter(wait))
			return echo.NewHTTPError(http.StatusTooManyRequests, "rate limit for this issuer exceeded; retry after the Retry-After seconds")
		}
		if h.cfg.Gate == nil {
			return next(c)
		}
		leave, err := h.cfg.Gate.Enter(c.Request().Context())
		if err != nil {
			undo() // the issuer's token is not spent on a request we refuse
			h.metrics.refused.WithLabelValues("busy").Inc()
			// At random from 1 second to a spread that grows with the
			// crowd: refused together, they would otherwise come back
			// together.
			c.Response().Header().Set("Retry-After", strconv.Itoa(h.cfg.Backoff.RetryAfter()))
			if errors.Is(err, admission.ErrBusy) {
				return echo.NewHTTPError(http.StatusServiceUnavailable, "too many requests in progress; retry after the Retry-After seconds")
			}
			return echo.NewHTTPError(http.StatusServiceUnavailable, "request cancelled while waiting")
		}
		defer leave()
		return next(c)
	}
}

// retryAfter is a Retry-After value in whole seconds, at least one.
func retryAfter(d time.Duration) string {
	return strconv.Itoa(max(1, int(math.Ceil(d.Seconds()))))
}

type issueResponse struct {
	UVCI      string    `json:"uvci"`
	HC1       string    `json:"hc1"`
	KID       string    `json:"kid"`
	IssuedAt  time.Time `json:"issuedAt"`
	ExpiresAt time.Time `json:"expiresAt"`
}

func (h *issueHandler) issue(c echo.Context) error {
	req := c.Request()
	format, ok := negotiate(req.Header.Get(echo.HeaderAccept), issueFormats)
	if !ok {
		return echo.NewHTTPError(http.StatusNotAcceptable, "Accept must allow one of "+strings.Join(issueFormats, ", "))
	}
	if ct := req.Header.Get(echo.HeaderContentType); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != mimeJSON {
			return echo.NewHTTPError(http.StatusUnsupportedMediaType, "the body must be application/json")
		}
	}
	body, err := readBody(c, issuer.MaxRequestSize, "the body is larger than 16 KiB")
	if err != nil {
		return err
	}
	r, err := issuer.ParseRequest(body)
	if err != nil {
		return err // ErrMalformed: 400 with what is wrong
	}
	id := Issuer(c)
	if t := r.Type(); t != hcert.TypeUnknown && !id.Has(auth.Role("issue:"+string(t))) {
		return echo.NewHTTPError(http.StatusForbidden, "this issuer may not issue "+t.String()+" certificates (role issue:"+string(t)+")")
	}
	who := issuer.Issuer{ID: id.Subject, Country: id.Country, Name: id.Name}
	out, err := h.cfg.Service.Issue(req.Context(), who, r, req.Header.Get("Idempotency-Key"))
	if err != nil {
		return err
	}
	hdr := c.Response().Header()
	hdr.Set(echo.HeaderLocation, "/api/v1/certificates/"+url.PathEscape(out.UVCI))
	hdr.Set("X-UVCI", out.UVCI)
	if out.Replayed {
		hdr.Set("Idempotent-Replayed", "true")
	} else {
		class := id.Class
		if class == "" {
			class = "unspecified"
		}
		h.metrics.issued.WithLabelValues(string(out.Type), class).Inc()
	}
	switch format {
	case mimePNG:
		png, err := render.PNG(out.HC1, h.cfg.QRScale)
		if err != nil {
			return err
		}
		return blob(c, http.StatusCreated, mimePNG, png)
	case mimePDF:
		pdf, err := render.PDF(render.Document{HC1: out.HC1, Certificate: out.Certificate,
			IssuedAt: out.IssuedAt, ExpiresAt: out.ExpiresAt, ValueSets: h.cfg.ValueSets})
		if err != nil {
			return err
		}
		hdr.Set("Content-Disposition", `inline; filename="certificate.pdf"`)
		return blob(c, http.StatusCreated, mimePDF, pdf)
	case mimeText:
		return blob(c, http.StatusCreated, mimeText+"; charset=utf-8", []byte(out.HC1))
	}
	return c.JSON(http.StatusCreated, issueResponse{UVCI: out.UVCI, HC1: out.HC1,
		KID: base64.StdEncoding.EncodeToString(out.KID), IssuedAt: out.IssuedAt.UTC(), ExpiresAt: out.ExpiresAt.UTC()})
}

// blob writes a body with its Content-Length (Echo's c.Blob would send it
// chunked).
func blob(c echo.Context, status int, contentType string, b []byte) error {
	c.Response().Header().Set(echo.HeaderContentLength, strconv.Itoa(len(b)))
	return c.Blob(status, contentType, b)
}

// list answers the issuer's own certificates issued in [from, to] (RFC
// 3339, a zoneless time is UTC; a date is its whole UTC day; defaults: the
// last 24 hours), a page of limit (50) at a time; next continues.
func (h *issueHandler) list(c echo.Context) error {
	q := c.QueryParams()
	to, err := queryTime(q.Get("to"), true, time.Now())
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "to: "+err.Error())
	}
	from, err := queryTime(q.Get("from"), false, to.Add(-24*time.Hour))
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "from: "+err.Error())
	}
	limit := 0
	if l := q.Get("limit"); l != "" {
		if limit, err = strconv.Atoi(l); err != nil || limit < 1 {
			return echo.NewHTTPError(http.StatusBadRequest, "limit must be a positive number")
		}
	}
	id := Issuer(c)
	page, err := h.cfg.Service.Issued(c.Request().Context(), id.Subject, id.Country, from, to, q.Get("cursor"), limit)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, page)
}

// queryTime reads a time parameter: an RFC 3339 date-time (UTC without an
// offset) or a date, which means its first instant, or with end its last;
// def when empty.
func queryTime(s string, end bool, def time.Time) (time.Time, error) {
	switch {
	case s == "":
		return def, nil
	case len(s) == len(time.DateOnly):
		d, err := time.Parse(time.DateOnly, s)
		if err != nil {
			return time.Time{}, errors.New("not a date (YYYY-MM-DD) or an RFC 3339 date-time")
		}
		if end {
			d = d.Add(24*time.Hour - time.Millisecond)
		}
		return d, nil
	}
	t, err := hcert.ParseDateTime(s)
	if err != nil {
		return time.Time{}, errors.New("not a date (YYYY-MM-DD) or an RFC 3339 date-time")
	}
	return t, nil
}

func (h *issueHandler) lookup(c echo.Context) error {
	uvci, err := url.PathUnescape(c.Param("uvci"))
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "malformed UVCI in the path")
	}
	a, err := h.cfg.Service.Lookup(c.Request().Context(), Issuer(c).Subject, uvci)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, a)
}

func (h *issueHandler) revoke(c echo.Context) error {
	uvci, err := url.PathUnescape(c.Param("uvci"))
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "malformed UVCI in the path")
	}
	rev, created, err := h.cfg.Service.Revoke(c.Request().Context(), Issuer(c).Subject, uvci)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return c.JSON(status, rev)
}

// negotiate picks the offered type the Accept header prefers (highest q,
// then the order of offers); no header or */* gives the first offer.
func negotiate(accept string, offers []string) (string, bool) {
	if strings.TrimSpace(accept) == "" {
		return offers[0], true
	}
	best, bestQ := "", 0.0
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if qs, ok := params["q"]; ok {
			if v, err := strconv.ParseFloat(qs, 64); err == nil {
				q = v
			}
		}
		if q <= 0 {
			continue
		}
		for _, o := range offers {
			if matchMedia(mt, o) && (q > bestQ || q == bestQ && indexOf(offers, o) < indexOf(offers, best)) {
				best, bestQ = o, q
				break
			}
		}
	}
	return best, best != ""
}

func matchMedia(pattern, offer string) bool {
	if pattern == "*/*" || pattern == offer {
		return true
	}
	prefix, ok := strings.CutSuffix(pattern, "/*")
	return ok && strings.HasPrefix(offer, prefix+"/")
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return len(list)
}
