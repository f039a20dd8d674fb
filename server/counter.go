package server

import (
	"embed"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/greenpass-dcc/greenpass/auth"
	"github.com/greenpass-dcc/greenpass/issuer"
	"github.com/greenpass-dcc/greenpass/valueset"
)

//go:embed counter
var counterFiles embed.FS

// Counter configures the pharmacy counter page (/counter) and the calls
// only it makes: who the signed-in issuer is, with the vocabularies of its
// form, and names as certificates will carry them. Issuing, listing and
// revoking are the issuing API's; reading a previous certificate is the
// checkpoint's (issuer tokens are admitted there).
type Counter struct {
	Tokens      TokenVerifier
	Suspensions SuspensionChecker
	ValueSets   valueset.Sets
	// DefaultIssuerName is the "is" of tokens without a name.
	DefaultIssuerName string
}

// counterSets are the value sets the counter's pickers offer.
var counterSets = []string{valueset.Disease, valueset.Vaccine, valueset.Product, valueset.Manufacturer,
	valueset.TestType, valueset.TestResult, valueset.Country, "covid-19-lab-test-manufacturer-and-name"}

// MountCounter adds the counter page and
//
//	GET  /api/v1/issuer         the signed-in issuer: name, country, the types it may issue, its form's value sets
//	POST /api/v1/issuer/names   {fn, gn} → {fnt, gnt}, the transliteration a certificate carries
func (s *Server) MountCounter(cfg Counter) {
	h := &counterHandler{cfg: cfg, codes: activeCodes(cfg.ValueSets)}
	g := s.echo.Group("/api/v1/issuer", s.RequireIssuer(cfg.Tokens), refuseSuspended(cfg.Suspensions))
	g.GET("", h.profile)
	g.POST("/names", h.names)

	s.mountPage("/counter", counterFiles, "counter", "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "+
		"frame-src 'self' blob:; connect-src 'self' blob:; object-src 'none'; base-uri 'none'; form-action 'self'")
}

type counterHandler struct {
	cfg   Counter
	codes map[string]map[string]string // the form's value sets, made once
}

// activeCodes are the active codes of the counter's value sets, code →
// display name.
func activeCodes(sets valueset.Sets) map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, sid := range counterSets {
		set, ok := sets[sid]
		if !ok {
			continue
		}
		codes := map[string]string{}
		for code, v := range set.Values {
			if v.Active {
				codes[code] = v.Display
			}
		}
		out[sid] = codes
	}
	return out
}

// profile is what the counter shows and offers for the signed-in issuer.
type profile struct {
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	Country string   `json:"country"`
	Types   []string `json:"types"` // v, t, r: the types its roles allow
	// ValueSets are the active codes of the form's value sets, code →
	// display name.
	ValueSets map[string]map[string]string `json:"valueSets"`
	// Products pair a vaccine product with its holder and vaccine type.
	Products map[string]valueset.ProductDefaults `json:"products"`
}

func (h *counterHandler) profile(c echo.Context) error {
	id := Issuer(c)
	p := profile{ID: id.Subject, Name: id.Name, Country: id.Country, Types: []string{},
		ValueSets: h.codes, Products: valueset.Products}
	if p.Name == "" {
		p.Name = h.cfg.DefaultIssuerName
	}
	for _, t := range []string{"v", "t", "r"} {
		if id.Has(auth.Role("issue:" + t)) {
			p.Types = append(p.Types, t)
		}
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, p)
}

func (h *counterHandler) names(c echo.Context) error {
	var in issuer.NameInput
	if err := decode(c, &in); err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, issuer.NameInput{FamilyStandard: issuer.StandardName(in.Family), GivenStandard: issuer.StandardName(in.Given)})
}
