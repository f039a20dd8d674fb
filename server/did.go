package server

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"

	"github.com/greenpass-dcc/greenpass/didtrust"
	"github.com/greenpass-dcc/greenpass/trustlist"
)

// DIDTrustLists publishes the current trust list as WHO GDHCN DID
// documents.
type DIDTrustLists struct {
	Lists TrustLists
	// Signer is the trust-list key; its DID document is /v2/signer/did.json.
	Signer crypto.Signer
	// Host is the did:web host (host[:port]) the documents are named
	// under, as verifiers reach this service. Empty: the request's Host,
	// for at most maxDIDHosts hosts per trust list (a test or a
	// development machine); others get 421.
	Host string
}

// maxDIDHosts bounds the names documents are made for without a configured
// host: the large documents of 10,000 DSCs are 8 MB each, kept per name.
const maxDIDHosts = 4

// MountDIDTrustLists adds the DID documents of the v2 hierarchy, with `-`
// as the wildcard of a level:
//
//	GET /v2/trustlist/did.json                          everything (domain DCC)
//	GET /v2/trustlist/{DCC|-}[/{ALPHA3|-}[/{SCA|DSC}]]/did.json
//	GET /v2/signer/did.json                             the key the proofs verify under
//
// Each document is made (canonicalised and signed) when first asked for
// and kept for the trust list it shows; ETag/304 and gzip as the other
// lists.
func (s *Server) MountDIDTrustLists(cfg DIDTrustLists) {
	h := &didHandler{cfg: cfg, docs: map[string]*didDoc{}}
	for _, p := range []string{"/v2/trustlist/did.json", "/v2/trustlist/:d/did.json", "/v2/trustlist/:d/:p/did.json",
		"/v2/trustlist/:d/:p/:u/did.json", "/v2/signer/did.json"} {
		s.echo.GET(p, h.serve)
		s.echo.HEAD(p, h.serve)
		s.quiet[p] = true
		s.bare[p] = true
	}
}

type didHandler struct {
	cfg DIDTrustLists

	mu      sync.Mutex
	view    string // the trust list the documents show
	hosts   map[string]bool
	docs    map[string]*didDoc
	entries *didEntries
}

// didEntries are a trust list's keys as DID entries, each DSC with the
// CSCA that issued it: found once per trust list (a signature check per
// DSC), filtered by every document.
type didEntries struct {
	once sync.Once
	list []didtrust.Entry
}

// didDoc is one document, made once.
type didDoc struct {
	once sync.Once
	resp *trustlist.Response
	err  error
}

func (h *didHandler) serve(c echo.Context) error {
	v := h.cfg.Lists.Current()
	if v == nil {
		return echo.NewHTTPError(http.StatusServiceUnavailable, "no trust list has been published yet")
	}
	host := h.cfg.Host
	if host == "" {
		host = c.Request().Host
	}
	// The levels, each checked: anything else is no document of ours.
	var levels []string
	for _, name := range []string{"d", "p", "u"} {
		if p := c.Param(name); p != "" {
			levels = append(levels, p)
		}
	}
	signerDoc := strings.HasPrefix(c.Path(), "/v2/signer/")
	if !signerDoc && !validLevels(levels) {
		return echo.NewHTTPError(http.StatusNotFound, "no such trust list: the levels are DCC or -, a participant (ISO 3166-1 alpha-3) or -, SCA or DSC")
	}
	key := host + " " + strings.Join(levels, "/")
	if signerDoc {
		key = host + " signer"
	}
	h.mu.Lock()
	if h.view != v.Hash {
		h.view, h.docs, h.hosts, h.entries = v.Hash, map[string]*didDoc{}, map[string]bool{}, &didEntries{}
	}
	if !h.hosts[host] {
		if h.cfg.Host == "" && len(h.hosts) >= maxDIDHosts {
			h.mu.Unlock()
			return echo.NewHTTPError(http.StatusMisdirectedRequest, "too many host names; set the DID host (--did-host)")
		}
		h.hosts[host] = true
	}
	d := h.docs[key]
	if d == nil {
		d = &didDoc{}
		h.docs[key] = d
	}
	all := h.entries
	h.mu.Unlock()
	d.once.Do(func() {
		if signerDoc {
			d.resp, d.err = h.signer(host, v)
			return
		}
		all.once.Do(func() { all.list = didEntriesOf(v) })
		d.resp, d.err = h.render(host, levels, v, all.list)
	})
	if d.err != nil {
		return d.err
	}
	return document(c, d.resp)
}

func validLevels(levels []string) bool {
	for i, l := range levels {
		switch i {
		case 0:
			if l != didtrust.DomainDCC && l != "-" {
				return false
			}
		case 1:
			if l != "-" && (len(l) != 3 || strings.ToUpper(l) != l || didtrust.Alpha2(l) == "") {
				return false
			}
		case 2:
			if l != didtrust.UsageSCA && l != didtrust.UsageDSC {
				return false
			}
		}
	}
	return true
}

// hostDID is the did:web DID of host (a port's colon escaped).
func hostDID(host string) string { return "did:web:" + strings.ReplaceAll(host, ":", "%3A") }

// didBase is the DID of the list root under host.
func didBase(host string) string { return hostDID(host) + ":v2:trustlist" }

func signerDID(host string) string { return hostDID(host) + ":v2:signer" }

// didEntriesOf is the view's CSCAs (as SCA) and DSCs as DID entries of
// domain DCC, each DSC with the CSCA of its country that issued it.
// Entries of what is no country (no alpha-3 code) are left out.
func didEntriesOf(v *trustlist.View) []didtrust.Entry {
	type csca struct {
		country string
		cert    *x509.Certificate
	}
	var cscas []csca
	var out []didtrust.Entry
	for _, e := range v.OfType(trustlist.TypeCSCA) {
		der, err := base64.StdEncoding.DecodeString(e.RawData)
		if err != nil {
			continue
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			continue
		}
		cscas = append(cscas, csca{e.Country, c})
		if p := didtrust.Alpha3(e.Country); p != "" {
			out = append(out, didtrust.Entry{Chain: []*x509.Certificate{c}, Domain: didtrust.DomainDCC, Participant: p, KeyUsage: didtrust.UsageSCA})
		}
	}
	for _, d := range v.List().All() { // parsed when the view was made
		p := didtrust.Alpha3(d.Country)
		if p == "" {
			continue
		}
		chain := []*x509.Certificate{d.Certificate}
		for _, c := range cscas {
			if c.country == d.Country && bytes.Equal(c.cert.RawSubject, d.Certificate.RawIssuer) && d.Certificate.CheckSignatureFrom(c.cert) == nil {
				chain = append(chain, c.cert)
				break
			}
		}
		out = append(out, didtrust.Entry{Chain: chain, Domain: didtrust.DomainDCC, Participant: p, KeyUsage: didtrust.UsageDSC})
	}
	return out
}

// render makes the document of levels from the view's entries: those that
// pass its filters.
func (h *didHandler) render(host string, levels []string, v *trustlist.View, all []didtrust.Entry) (*trustlist.Response, error) {
	id := didBase(host)
	controller := id // the root controls itself, every other document the one above it
	for _, l := range levels {
		controller = id
		id += ":" + l
	}
	participant, usage := "-", "-"
	if len(levels) > 1 {
		participant = levels[1]
	}
	if len(levels) > 2 {
		usage = levels[2]
	}
	var entries []didtrust.Entry
	for _, e := range all {
		if (participant == "-" || e.Participant == participant) && (usage == "-" || e.KeyUsage == usage) {
			entries = append(entries, e)
		}
	}
	body, err := didtrust.Build(id, controller, entries, didtrust.Signer{Key: h.cfg.Signer, Method: signerDID(host)}, v.IssuedAt)
	if err != nil {
		return nil, err
	}
	return trustlist.NewDocument("application/json", []byte(v.Hash+" "+id), body, v.IssuedAt), nil
}

func (h *didHandler) signer(host string, v *trustlist.View) (*trustlist.Response, error) {
	key, ok := h.cfg.Signer.Public().(*ecdsa.PublicKey)
	if !ok || key.Curve != elliptic.P256() {
		return nil, fmt.Errorf("the trust-list key is not ECDSA P-256")
	}
	body, err := didtrust.SignerDocument(signerDID(host), key)
	if err != nil {
		return nil, err
	}
	return trustlist.NewDocument("application/json", body, body, v.IssuedAt), nil
}
