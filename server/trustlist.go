package server

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/greenpass-dcc/greenpass/trustlist"
)

// TrustLists is the current trust-list view; nil before anything was
// published. Revocations is the current revocation view (upstream and
// this service's own revocations), nil until rendered.
type TrustLists interface {
	Current() *trustlist.View
	Revocations() *trustlist.RevocationView
}

// MountTrustLists adds the public trust-list endpoints, in the formats the
// apps and verifiers already consume:
//
//	GET /trustList/DSC/                   CovPass: signature line + JSON
//	GET /trustList/signing-key            the key that signs the lists (PEM)
//	GET /trustList[/{type}[/{country}]]   gateway TrustListDto lists
//	GET /signercertificateStatus          DGCA verifier service: all kids
//	GET /signercertificateUpdate          DGCA verifier service: one DSC per call, X-RESUME-TOKEN paging
//	GET /signercertificateStatus/delta    DGCA verifier service: kids listed and removed since If-Modified-Since
//	POST /signercertificateUpdate         DGCA verifier service: the DSCs of a list of kids, by country
//	GET /trustedissuers                   DGCA verifier service: the trusted issuers (none synced: [])
//
// Documents carry a weak ETag over their content (If-None-Match → 304),
// Last-Modified = the snapshot's issue time, gzip when asked for, and the
// JSON lists an X-SIGNATURE.
func (s *Server) MountTrustLists(tl TrustLists) {
	s.registerTrustListMetrics(tl, time.Now)
	h := trustListHandler{tl: tl}
	// The documents without parameters are also served before Echo (see
	// Server.serveHTTP): they are what thousands of apps poll.
	documents := map[string]func(*trustlist.View) *trustlist.Response{
		"/trustList/DSC/":          (*trustlist.View).CovPassList,
		"/trustList/signing-key":   (*trustlist.View).SigningKey,
		"/signercertificateStatus": (*trustlist.View).SignerStatus,
		"/trustedissuers":          (*trustlist.View).TrustedIssuers,
		"/valuesets":               (*trustlist.View).ValueSetList,
		"/countrylist":             (*trustlist.View).CountryList,
	}
	routes := map[string]echo.HandlerFunc{
		"/trustList":                     h.gateway,
		"/trustList/:type":               h.gateway,
		"/trustList/:type/:country":      h.gateway,
		"/signercertificateUpdate":       h.update,
		"/signercertificateStatus/delta": h.delta,
		"/rules":                         h.ruleList,
		"/rules/:country":                h.ruleList,
		"/rules/:country/:hash":          h.rule,
		"/valuesets/:hash":               h.valueSet,
		"/revocation/lists":              h.revocationIndex,
		"/revocation/lists/:kid":         h.revocationList,
	}
	for path, pick := range documents {
		routes[path] = h.document(pick)
		s.fast[path] = h.fastDocument(pick)
	}
	for path, handler := range routes {
		s.echo.GET(path, handler)
		s.echo.HEAD(path, handler)
		s.quiet[path] = true
		s.bare[path] = true
	}
	s.echo.POST("/signercertificateUpdate", h.lookup)
}

// delta answers the kids listed and removed since If-Modified-Since (RFC
// 3339 or an HTTP date; all of them without it), as the DGCA verifier
// service does.
func (h trustListHandler) delta(c echo.Context) error {
	v, err := h.view()
	if err != nil {
		return err
	}
	var since time.Time
	if ims := c.Request().Header.Get("If-Modified-Since"); ims != "" {
		if since, err = time.Parse(time.RFC3339, ims); err != nil {
			if since, err = http.ParseTime(ims); err != nil {
				// The reference's answer, word for word.
				return c.String(http.StatusBadRequest, "Can not parse if-modified-since header")
			}
		}
	}
	return document(c, v.Delta(since))
}

// Bounds of POST /signercertificateUpdate.
const (
	maxLookupBody = 1 << 20
	maxLookupKIDs = 10_000
)

// lookup answers the DSCs of the kids in the body (a JSON array), by
// country; unknown kids are left out ({} when none is known).
func (h trustListHandler) lookup(c echo.Context) error {
	v, err := h.view()
	if err != nil {
		return err
	}
	body, err := readBody(c, maxLookupBody, "the kid list is larger than 1 MiB")
	if err != nil {
		return err
	}
	var kids []string
	if err := json.Unmarshal(body, &kids); err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "the body must be a JSON array of kids (Base64)")
	}
	if len(kids) > maxLookupKIDs {
		return echo.NewHTTPError(http.StatusBadRequest, "at most 10,000 kids at a time")
	}
	c.Response().Header().Set("Cache-Control", "no-cache")
	return c.JSON(http.StatusOK, v.Lookup(kids))
}

type trustListHandler struct{ tl TrustLists }

func (h trustListHandler) view() (*trustlist.View, error) {
	v := h.tl.Current()
	if v == nil {
		return nil, echo.NewHTTPError(http.StatusServiceUnavailable, "no trust list has been published yet")
	}
	return v, nil
}

// document serves the view's document that pick names.
func (h trustListHandler) document(pick func(*trustlist.View) *trustlist.Response) echo.HandlerFunc {
	return func(c echo.Context) error {
		v, err := h.view()
		if err != nil {
			return err
		}
		return document(c, pick(v))
	}
}

// fastDocument is document for the fast path: before anything is
// published it leaves the request to Echo, which reports the 503.
func (h trustListHandler) fastDocument(pick func(*trustlist.View) *trustlist.Response) fastHandler {
	return func(w http.ResponseWriter, r *http.Request) int {
		v := h.tl.Current()
		if v == nil {
			return 0
		}
		return serveDocument(w, r, pick(v))
	}
}

// countryParam is the optional :country of a path: empty or two
// upper-case letters.
func countryParam(c echo.Context) (string, error) {
	country := c.Param("country")
	if country != "" && (len(country) != 2 || strings.ToUpper(country) != country) {
		return "", echo.NewHTTPError(http.StatusBadRequest, "country must be two upper-case letters (ISO 3166-1 alpha-2)")
	}
	return country, nil
}

func (h trustListHandler) gateway(c echo.Context) error {
	v, err := h.view()
	if err != nil {
		return err
	}
	country, err := countryParam(c)
	if err != nil {
		return err
	}
	r, ok := v.GatewayList(c.Param("type"), country)
	if !ok {
		return echo.NewHTTPError(http.StatusBadRequest, "type must be DSC, CSCA, UPLOAD or AUTHENTICATION")
	}
	return document(c, r)
}

func (h trustListHandler) ruleList(c echo.Context) error {
	v, err := h.view()
	if err != nil {
		return err
	}
	country, err := countryParam(c)
	if err != nil {
		return err
	}
	return document(c, v.RuleList(country))
}

func (h trustListHandler) rule(c echo.Context) error {
	v, err := h.view()
	if err != nil {
		return err
	}
	r, ok := v.Rule(c.Param("country"), strings.ToLower(c.Param("hash")))
	if !ok {
		return echo.NewHTTPError(http.StatusNotFound, "no rule of this country has this hash")
	}
	return document(c, r)
}

func (h trustListHandler) valueSet(c echo.Context) error {
	v, err := h.view()
	if err != nil {
		return err
	}
	r, ok := v.ValueSet(strings.ToLower(c.Param("hash")))
	if !ok {
		return echo.NewHTTPError(http.StatusNotFound, "no value set has this hash")
	}
	return document(c, r)
}

func (h trustListHandler) revocations() (*trustlist.RevocationView, error) {
	r := h.tl.Revocations()
	if r == nil {
		return nil, echo.NewHTTPError(http.StatusServiceUnavailable, "the revocation list is not ready yet")
	}
	return r, nil
}

func (h trustListHandler) revocationIndex(c echo.Context) error {
	r, err := h.revocations()
	if err != nil {
		return err
	}
	return document(c, r.Index)
}

// revocationList serves one kid's list; the kid is Base64url in the path
// (standard Base64 has "/"), with or without padding.
func (h trustListHandler) revocationList(c echo.Context) error {
	r, err := h.revocations()
	if err != nil {
		return err
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(c.Param("kid"), "="))
	if err != nil || len(raw) != 8 {
		return echo.NewHTTPError(http.StatusBadRequest, "kid must be the 8-byte kid in Base64url")
	}
	doc, ok := r.ForKID(base64.StdEncoding.EncodeToString(raw))
	if !ok {
		return echo.NewHTTPError(http.StatusNotFound, "no revocations for this kid")
	}
	return document(c, doc)
}

// update hands out the DSC after the client's resume token; 204 when it
// has them all.
func (h trustListHandler) update(c echo.Context) error {
	v, err := h.view()
	if err != nil {
		return err
	}
	var after int64
	if tok := c.Request().Header.Get("X-RESUME-TOKEN"); tok != "" {
		if after, err = strconv.ParseInt(tok, 10, 64); err != nil || after < 0 {
			return echo.NewHTTPError(http.StatusBadRequest, "X-RESUME-TOKEN must be a non-negative whole number")
		}
	}
	hdr := c.Response().Header()
	hdr.Set("Cache-Control", "no-cache")
	u, ok := v.SignerUpdate(after)
	if !ok {
		return c.NoContent(http.StatusNoContent)
	}
	hdr.Set("X-RESUME-TOKEN", strconv.FormatInt(u.ID, 10))
	hdr.Set("X-KID", u.KID)
	return blob(c, http.StatusOK, "text/plain; charset=utf-8", []byte(u.RawData))
}

// serveDocument answers with a rendered document: 304 when the client
// holds it (weak comparison, as If-None-Match uses), else the body, gzip'd
// when the client accepts it. It returns the status it wrote.
func serveDocument(w http.ResponseWriter, req *http.Request, r *trustlist.Response) int {
	hdr := w.Header()
	// Header values made once per document (net/http does not modify
	// them): this runs for every download and revalidation.
	for k, v := range r.Header {
		hdr[k] = v
	}
	hdr["Cache-Control"] = cacheControl
	hdr["Vary"] = varyEncoding
	if inm := req.Header.Get("If-None-Match"); inm != "" && etagMatches(inm, r.ETag) {
		w.WriteHeader(http.StatusNotModified)
		return http.StatusNotModified
	}
	body := r.Body
	if acceptsGzip(req.Header.Get("Accept-Encoding")) {
		if gz := r.Gzip(); gz != nil {
			hdr["Content-Encoding"] = gzipEncoding
			body = gz
		}
	}
	hdr.Set(echo.HeaderContentType, r.ContentType)
	hdr.Set(echo.HeaderContentLength, strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if req.Method != http.MethodHead {
		w.Write(body)
	}
	return http.StatusOK
}

// document serves r from an Echo route.
func document(c echo.Context, r *trustlist.Response) error {
	serveDocument(c.Response(), c.Request(), r)
	return nil
}

var (
	cacheControl = []string{"public, max-age=60"}
	varyEncoding = []string{"Accept-Encoding"}
	gzipEncoding = []string{"gzip"}
)

// etagMatches applies If-None-Match's weak comparison: W/ is ignored, "*"
// matches anything.
func etagMatches(header, etag string) bool {
	want := strings.TrimPrefix(etag, "W/")
	for _, tag := range strings.Split(header, ",") {
		tag = strings.TrimSpace(tag)
		if tag == "*" || strings.TrimPrefix(tag, "W/") == want {
			return true
		}
	}
	return false
}

// acceptsGzip reports whether an Accept-Encoding header allows gzip.
func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			continue
		}
		q := strings.TrimSpace(params)
		return !(strings.HasPrefix(q, "q=0") && strings.Trim(strings.TrimPrefix(q, "q="), "0.") == "")
	}
	return false
}
