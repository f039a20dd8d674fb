package server

import (
	"context"
	"crypto/subtle"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/sync/semaphore"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/greenpass-dcc/greenpass/admission"
	"github.com/greenpass-dcc/greenpass/auth"
	"github.com/greenpass-dcc/greenpass/hcert"
	"github.com/greenpass-dcc/greenpass/issuer"
	"github.com/greenpass-dcc/greenpass/pdfimage"
	"github.com/greenpass-dcc/greenpass/qrscan"
	"github.com/greenpass-dcc/greenpass/verifier"
)

//go:embed checkpoint
var checkpointFiles embed.FS

// CheckpointVerifier verifies what a checkpoint scanned, against the
// current trust list, revocation list and the rules of country (the
// configured checkpoint country when empty).
type CheckpointVerifier interface {
	// VerifyImage looks hard for the code in a photo; VerifyFrame looks
	// briefly in a live camera frame, whose retry is the next frame.
	VerifyImage(ctx context.Context, image []byte, country string) *verifier.Result
	VerifyFrame(ctx context.Context, image []byte, country string) *verifier.Result
	VerifyText(ctx context.Context, text, country string) *verifier.Result
}

// Checkpoint configures the verify API and the /check page.
type Checkpoint struct {
	Verifier CheckpointVerifier
	// Gate bounds the scans worked on at once (503 beyond); nil admits all.
	Gate *admission.Gate
	// Key, when set, is a shared key the API wants in X-Checkpoint-Key;
	// Tokens, when set, admits bearer tokens with the role verify. With
	// neither, the API is open (development).
	Key    string
	Tokens TokenVerifier
	// Suspensions refuse suspended issuers' tokens (the counter reads a
	// previous certificate with one); nil: none.
	Suspensions SuspensionChecker
	// MaxBody bounds an upload (10 MB when zero).
	MaxBody int64
	// BodyTimeout bounds reading an upload (10 s when zero; 408 after
	// it): the body is read before any scan slot is taken, so slow
	// uploads hold no slot.
	BodyTimeout time.Duration
	// Memory bounds what the scans at once may hold, each weighed from its
	// image's header (512 MiB when zero; 503 beyond).
	Memory int64
}

// MountCheckpoint adds POST /api/v1/verify and the checkpoint page /check.
func (s *Server) MountCheckpoint(cfg Checkpoint) {
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = 10 << 20
	}
	if cfg.BodyTimeout <= 0 {
		cfg.BodyTimeout = 10 * time.Second
	}
	if cfg.Memory <= 0 {
		cfg.Memory = 512 << 20
	}
	h := &checkpointHandler{cfg: cfg, log: s, memory: semaphore.NewWeighted(cfg.Memory), outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "greenpass_checkpoint_results_total",
		Help: "Checkpoint verifications by outcome (valid, invalid, no_code).",
	}, []string{"outcome"})}
	s.registry.MustRegister(h.outcomes)
	s.echo.POST("/api/v1/verify", h.verify, h.authorize)
	s.quiet["/api/v1/verify"] = true
	s.ownLimit["/api/v1/verify"] = true

	s.mountPage("/check", checkpointFiles, "checkpoint", "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:")
}

// mountPage serves the embedded files in dir of files at path and below,
// with the page's Content-Security-Policy, never cached unchecked.
func (s *Server) mountPage(path string, files embed.FS, dir, csp string) {
	static, _ := fs.Sub(files, dir)
	handler := http.FileServer(http.FS(static))
	serve := func(c echo.Context) error {
		hdr := c.Response().Header()
		hdr.Set("Cache-Control", "no-cache")
		hdr.Set("Content-Security-Policy", csp)
		hdr.Set("X-Content-Type-Options", "nosniff")
		hdr.Set("Referrer-Policy", "no-referrer")
		req := c.Request().Clone(c.Request().Context())
		req.URL.Path = "/" + strings.TrimPrefix(strings.TrimPrefix(req.URL.Path, path), "/")
		handler.ServeHTTP(c.Response(), req)
		return nil
	}
	s.echo.GET(path, serve)
	s.echo.GET(path+"/*", serve)
}

type checkpointHandler struct {
	cfg      Checkpoint
	log      *Server
	memory   *semaphore.Weighted
	outcomes *prometheus.CounterVec
}

// authorize admits a request with the shared key or a verify token when
// either is configured.
func (h *checkpointHandler) authorize(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if h.cfg.Key == "" && h.cfg.Tokens == nil {
			return next(c)
		}
		req := c.Request()
		if k := req.Header.Get("X-Checkpoint-Key"); h.cfg.Key != "" && k != "" &&
			subtle.ConstantTimeCompare([]byte(k), []byte(h.cfg.Key)) == 1 {
			return next(c)
		}
		// Checkpoints have the role verify; issuers read a previous
		// certificate at the counter (a booster's prefill).
		if token, ok := strings.CutPrefix(req.Header.Get(echo.HeaderAuthorization), "Bearer "); ok && h.cfg.Tokens != nil {
			id, err := h.cfg.Tokens.Verify(token)
			switch {
			case err != nil:
			case id.Has(auth.RoleVerify):
				return next(c)
			case id.Has(auth.RoleIssueVaccination) || id.Has(auth.RoleIssueTest) || id.Has(auth.RoleIssueRecovery):
				if h.cfg.Suspensions != nil && h.cfg.Suspensions.Suspended(id.Subject) {
					return issuer.ErrSuspended
				}
				return next(c)
			}
		}
		c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="greenpass checkpoint"`)
		return echo.NewHTTPError(http.StatusUnauthorized, "this checkpoint needs its key (X-Checkpoint-Key) or a token with the role verify or issue:v|t|r")
	}
}

// checkpointResult is the verifier's result with the person reduced to
// names and date of birth, unless the whole payload was asked for.
type checkpointResult struct {
	*verifier.Result
	Certificate any `json:"payload,omitempty"`
}

type person struct {
	Version     string     `json:"ver,omitempty"`
	Name        hcert.Name `json:"nam"`
	DateOfBirth string     `json:"dob"`
}

// sendWhat is the answer to a body of another type.
const sendWhat = "send an image (image/jpeg, image/png, …) or a PDF (application/pdf), a multipart form with the field image, or the HC1: text as text/plain"

func (h *checkpointHandler) verify(c echo.Context) error {
	req := c.Request()
	ct := req.Header.Get(echo.HeaderContentType)
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return echo.NewHTTPError(http.StatusUnsupportedMediaType, sendWhat)
	}
	country := strings.ToUpper(c.QueryParam("country"))
	if country != "" && len(country) != 2 {
		return echo.NewHTTPError(http.StatusBadRequest, "country must be two letters")
	}
	// The body first, bounded in bytes and time; the scarce slots only
	// after it is here and its header passed.
	data, err := h.readBody(c, mt, params["boundary"])
	if err != nil {
		return err
	}
	var res *verifier.Result
	if mt == "text/plain" {
		if !utf8.Valid(data) || len(data) > 2*hcert.MaxTextLen {
			return echo.NewHTTPError(http.StatusBadRequest, "the text is not an HC1: string")
		}
		leave, err := h.enter(req.Context(), c, 0)
		if err != nil {
			return err
		}
		defer leave()
		res = h.cfg.Verifier.VerifyText(req.Context(), strings.Trim(string(data), "\r\n"), country)
	} else {
		var weight int64
		switch {
		case pdfimage.IsPDF(data):
			// What the document's images will need is known only once
			// they are out: it is weighed at its limits, the reader's and
			// one image's scan.
			weight = pdfimage.MaxMemory + qrscan.MaxScanBytes
		case len(data) == 0 || !qrscan.IsImage(data):
			return fmt.Errorf("%w: the upload is not a PNG, JPEG, GIF or WebP image or a PDF", qrscan.ErrImageFormat)
		default:
			header, err := qrscan.Inspect(data)
			if err != nil {
				return err // 413 or 422, before any pixel is decoded
			}
			weight = header.ScanBytes
		}
		leave, err := h.enter(req.Context(), c, weight)
		if err != nil {
			return err
		}
		defer leave()
		if c.QueryParam("live") == "1" {
			res = h.cfg.Verifier.VerifyFrame(req.Context(), data, country)
		} else {
			res = h.cfg.Verifier.VerifyImage(req.Context(), data, country)
		}
		// Pixels that do not decode behind a good header: a client error
		// too, not a verdict.
		if r := res.FirstReason(); r != nil && r.Stage == verifier.StagePicture {
			switch r.Code {
			case verifier.CodeImageUnreadable:
				return fmt.Errorf("%w: %s", qrscan.ErrImageFormat, r.Message)
			case verifier.CodeImageTooLarge:
				return fmt.Errorf("%w: %s", qrscan.ErrImageTooLarge, r.Message)
			}
		}
	}
	out := checkpointResult{Result: res}
	if res.Certificate != nil {
		if c.QueryParam("full") == "1" {
			out.Certificate = res.Certificate
		} else {
			out.Certificate = person{Version: res.Certificate.Version, Name: res.Certificate.Name, DateOfBirth: res.Certificate.DateOfBirth}
		}
	}
	switch {
	case res.Valid:
		h.outcomes.WithLabelValues("valid").Inc()
	case res.Stages.Get(verifier.StagePicture) == verifier.Fail:
		h.outcomes.WithLabelValues("no_code").Inc()
	default:
		h.outcomes.WithLabelValues("invalid").Inc()
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, out)
}

// readBody reads the upload within MaxBody bytes and BodyTimeout: 413,
// 408 and 400 for a body too large, too slow or malformed.
func (h *checkpointHandler) readBody(c echo.Context, mt, boundary string) ([]byte, error) {
	rc := http.NewResponseController(c.Response())
	rc.SetReadDeadline(time.Now().Add(h.cfg.BodyTimeout)) // not supported by every writer (tests): then the server's timeout holds
	defer rc.SetReadDeadline(time.Time{})
	body := http.MaxBytesReader(c.Response(), c.Request().Body, h.cfg.MaxBody)
	var data []byte
	var err error
	switch {
	case strings.HasPrefix(mt, "image/"), mt == "application/pdf", mt == "text/plain":
		data, err = io.ReadAll(body)
	case mt == "multipart/form-data":
		data, err = readFormImage(body, boundary)
	default:
		return nil, echo.NewHTTPError(http.StatusUnsupportedMediaType, sendWhat)
	}
	var mbe *http.MaxBytesError
	var bad badUpload
	switch {
	case err == nil:
		return data, nil
	case errors.As(err, &mbe):
		return nil, echo.NewHTTPError(http.StatusRequestEntityTooLarge, "the upload is larger than "+strconv.FormatInt(h.cfg.MaxBody>>20, 10)+" MB")
	case errors.Is(err, os.ErrDeadlineExceeded):
		return nil, echo.NewHTTPError(http.StatusRequestTimeout, "the upload took longer than "+h.cfg.BodyTimeout.String())
	case errors.As(err, &bad):
		return nil, echo.NewHTTPError(http.StatusBadRequest, string(bad))
	}
	return nil, echo.NewHTTPError(http.StatusBadRequest, "could not read the upload")
}

// enter takes a scan slot and weight bytes of the memory budget, waiting
// briefly for both; 503 with Retry-After when they are not to be had.
func (h *checkpointHandler) enter(ctx context.Context, c echo.Context, weight int64) (func(), error) {
	busy := func() error {
		c.Response().Header().Set("Retry-After", "1")
		return echo.NewHTTPError(http.StatusServiceUnavailable, "too many scans in progress; retry in a second")
	}
	if weight > 0 {
		wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := h.memory.Acquire(wctx, min(weight, h.cfg.Memory))
		cancel()
		if err != nil {
			return nil, busy()
		}
	}
	release := func() {
		if weight > 0 {
			h.memory.Release(min(weight, h.cfg.Memory))
		}
	}
	if h.cfg.Gate == nil {
		return release, nil
	}
	leave, err := h.cfg.Gate.Enter(ctx)
	if err != nil {
		release()
		return nil, busy()
	}
	return func() { leave(); release() }, nil
}

// badUpload is a client mistake in a multipart upload.
type badUpload string

func (e badUpload) Error() string { return string(e) }

// readFormImage returns the field "image" of a multipart form.
func readFormImage(body io.Reader, boundary string) ([]byte, error) {
	if boundary == "" {
		return nil, badUpload("the multipart form has no boundary")
	}
	mr := multipart.NewReader(body, boundary)
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil, badUpload("the form has no field image")
		}
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, err
			}
			return nil, badUpload("the multipart form is malformed")
		}
		if part.FormName() == "image" {
			return io.ReadAll(part)
		}
	}
}
