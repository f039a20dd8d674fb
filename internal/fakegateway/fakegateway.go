// Package fakegateway builds the trust data of a DCC gateway for tests,
// benchmarks and "greenpass gateway demo" — a trust anchor; per country a CSCA and an upload
// certificate; DSCs issued by a CSCA and CMS-signed by an upload
// certificate, well-formed or deliberately wrong — and serves it with the
// gateway's GET /trustList API.
package fakegateway

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/greenpass-dcc/greenpass/hcert"
	"github.com/greenpass-dcc/greenpass/trustlist"
)

// Party is a certificate with its key.
type Party struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
}

// Country holds one country's CSCA and upload certificate.
type Country struct {
	Code   string
	CSCA   Party
	Upload Party
}

// Gateway is the trust data of a fake gateway. Its methods are safe for
// concurrent use with its handler.
type Gateway struct {
	Anchor    Party
	Countries map[string]*Country
	now       time.Time

	mu      sync.Mutex
	entries []trustlist.Entry
	// Status, when not 0 or 200, is what every request gets (an upstream
	// outage); Truncate cuts each list body in half.
	status   atomic.Int32
	truncate atomic.Bool
	serial   atomic.Int64
	dscKey   *ecdsa.PrivateKey
	batches  []batch
}

var ekuOID = map[hcert.Type]asn1.ObjectIdentifier{
	hcert.TypeTest:        {1, 3, 6, 1, 4, 1, 1847, 2021, 1, 1},
	hcert.TypeVaccination: {1, 3, 6, 1, 4, 1, 1847, 2021, 1, 2},
	hcert.TypeRecovery:    {1, 3, 6, 1, 4, 1, 1847, 2021, 1, 3},
}

// New makes a gateway whose certificates are valid around now, with a CSCA
// and an upload certificate (both CMS-signed by the trust anchor) for each
// country.
func New(now time.Time, countries ...string) (*Gateway, error) {
	g := &Gateway{Countries: map[string]*Country{}, now: now}
	var err error
	if g.Anchor, err = g.party(pkix.Name{CommonName: "Fake DCCG Trust Anchor", Country: []string{"EU"}}, nil, true, now.AddDate(-1, 0, 0), now.AddDate(5, 0, 0)); err != nil {
		return nil, err
	}
	if g.dscKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return nil, err
	}
	for _, cc := range countries {
		c := &Country{Code: cc}
		if c.CSCA, err = g.party(pkix.Name{CommonName: "CSCA " + cc, Country: []string{cc}}, nil, true, now.AddDate(-2, 0, 0), now.AddDate(10, 0, 0)); err != nil {
			return nil, err
		}
		if c.Upload, err = g.party(pkix.Name{CommonName: "Upload " + cc, Country: []string{cc}}, nil, false, now.AddDate(-1, 0, 0), now.AddDate(2, 0, 0)); err != nil {
			return nil, err
		}
		g.Countries[cc] = c
		if _, err := g.Add(trustlist.TypeCSCA, cc, c.CSCA.Cert.Raw, g.Anchor); err != nil {
			return nil, err
		}
		if _, err := g.Add(trustlist.TypeUpload, cc, c.Upload.Cert.Raw, g.Anchor); err != nil {
			return nil, err
		}
	}
	return g, nil
}

// party makes a key and a certificate, self-signed when issuer is nil.
func (g *Gateway) party(name pkix.Name, issuer *Party, ca bool, notBefore, notAfter time.Time) (Party, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Party{}, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(g.serial.Add(1)), Subject: name,
		NotBefore: notBefore, NotAfter: notAfter, BasicConstraintsValid: true, IsCA: ca}
	if ca {
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	} else {
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	}
	parent, signer := tmpl, crypto.Signer(key)
	if issuer != nil {
		parent, signer = issuer.Cert, issuer.Key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), signer)
	if err != nil {
		return Party{}, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return Party{}, err
	}
	return Party{Cert: cert, Key: key}, nil
}

// IssueTLS makes a TLS certificate issued by the trust anchor, for a
// loopback server (name an IP address) or a client.
func (g *Gateway) IssueTLS(name string, client bool) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(g.serial.Add(1)), Subject: pkix.Name{CommonName: name},
		NotBefore: g.now.Add(-time.Hour), NotAfter: g.now.AddDate(0, 0, 7), KeyUsage: x509.KeyUsageDigitalSignature}
	if client {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		if ip := net.ParseIP(name); ip != nil {
			tmpl.IPAddresses = []net.IP{ip}
		} else {
			tmpl.DNSNames = []string{name}
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, g.Anchor.Cert, key.Public(), g.Anchor.Key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// DSC describes a DSC to add. The zero value (with Country) is a good
// DSC: issued by the country's CSCA, CMS-signed by its upload
// certificate, valid for a year around the gateway's time.
type DSC struct {
	Country string
	// IssuerCountry's CSCA issues it (default Country).
	IssuerCountry string
	// CMSCountry's upload certificate signs the CMS (default Country);
	// CMSSigner overrides it with any party.
	CMSCountry string
	CMSSigner  *Party
	NotBefore  time.Time
	NotAfter   time.Time
	// Types restricts the DSC by extended key usage (none: all types).
	Types []hcert.Type
	// Key is the DSC's key (default: one key shared by all DSCs, which
	// keeps generating thousands cheap).
	Key *ecdsa.PrivateKey
}

// AddDSC issues a DSC as described, lists it and returns its entry.
func (g *Gateway) AddDSC(d DSC) (trustlist.Entry, error) {
	if d.IssuerCountry == "" {
		d.IssuerCountry = d.Country
	}
	if d.CMSCountry == "" {
		d.CMSCountry = d.Country
	}
	if d.NotBefore.IsZero() {
		d.NotBefore = g.now.AddDate(0, -6, 0)
	}
	if d.NotAfter.IsZero() {
		d.NotAfter = g.now.AddDate(0, 6, 0)
	}
	if d.Key == nil {
		d.Key = g.dscKey
	}
	issuer, ok := g.Countries[d.IssuerCountry]
	if !ok {
		return trustlist.Entry{}, fmt.Errorf("no country %s", d.IssuerCountry)
	}
	cmsBy := d.CMSSigner
	if cmsBy == nil {
		c, ok := g.Countries[d.CMSCountry]
		if !ok {
			return trustlist.Entry{}, fmt.Errorf("no country %s", d.CMSCountry)
		}
		cmsBy = &c.Upload
	}
	n := g.serial.Add(1)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(n),
		Subject:   pkix.Name{CommonName: fmt.Sprintf("DSC %s %d", d.Country, n), Country: []string{d.Country}},
		NotBefore: d.NotBefore, NotAfter: d.NotAfter, KeyUsage: x509.KeyUsageDigitalSignature}
	for _, t := range d.Types {
		tmpl.UnknownExtKeyUsage = append(tmpl.UnknownExtKeyUsage, ekuOID[t])
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer.CSCA.Cert, d.Key.Public(), issuer.CSCA.Key)
	if err != nil {
		return trustlist.Entry{}, err
	}
	return g.Add(trustlist.TypeDSC, d.Country, der, *cmsBy)
}

// Add lists a certificate of any type with a detached CMS signature by
// signer over its DER, and returns the entry.
func (g *Gateway) Add(typ, country string, der []byte, signer Party) (trustlist.Entry, error) {
	cms, err := SignCMS(der, signer)
	if err != nil {
		return trustlist.Entry{}, err
	}
	e := EntryFor(typ, country, der)
	e.Signature = base64.StdEncoding.EncodeToString(cms)
	g.mu.Lock()
	g.entries = append(g.entries, e)
	g.mu.Unlock()
	return e, nil
}

// Put lists an entry exactly as given (for malformed entries).
func (g *Gateway) Put(e trustlist.Entry) {
	g.mu.Lock()
	g.entries = append(g.entries, e)
	g.mu.Unlock()
}

// Remove delists every entry with the thumbprint.
func (g *Gateway) Remove(thumbprint string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	kept := g.entries[:0]
	for _, e := range g.entries {
		if e.Thumbprint != thumbprint {
			kept = append(kept, e)
		}
	}
	g.entries = kept
}

// EntryFor is a TrustListDto for a DER certificate, without signature.
func EntryFor(typ, country string, der []byte) trustlist.Entry {
	e := trustlist.NewEntry(typ, country, der)
	e.Timestamp = "2026-01-01T00:00:00+01:00"
	return e
}

// SignCMS makes a detached CMS SignedData (SHA-256) over data.
func SignCMS(data []byte, signer Party) ([]byte, error) {
	return trustlist.SignCMS(data, signer.Cert, signer.Key)
}

// Entries returns the listed entries, optionally of one type and country.
func (g *Gateway) Entries(typ, country string) []trustlist.Entry {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := []trustlist.Entry{}
	for _, e := range g.entries {
		if (typ == "" || e.CertificateType == typ) && (country == "" || e.Country == country) {
			out = append(out, e)
		}
	}
	return out
}

// JSON is GET /trustList: every entry, the format of a local sync file.
func (g *Gateway) JSON() []byte {
	b, _ := json.Marshal(g.Entries("", ""))
	return b
}

// AnchorPEM is the trust anchor certificate as PEM.
func (g *Gateway) AnchorPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: g.Anchor.Cert.Raw})
}

// FailWith makes every request answer status (0: serve normally).
func (g *Gateway) FailWith(status int) { g.status.Store(int32(status)) }

// Truncate makes the lists arrive cut in half (a dropped connection).
func (g *Gateway) Truncate(on bool) { g.truncate.Store(on) }

// ServeHTTP answers GET /trustList, /trustList/{type},
// /trustList/{type}/{country}, /revocation-list and
// /revocation-list/{batchId}.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s := g.status.Load(); s != 0 && s != http.StatusOK {
		http.Error(w, "upstream unavailable", int(s))
		return
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if r.Method == http.MethodGet && parts[0] == "revocation-list" && len(parts) <= 2 {
		g.serveRevocations(w, r, parts)
		return
	}
	if r.Method != http.MethodGet || len(parts) == 0 || parts[0] != "trustList" || len(parts) > 3 {
		http.NotFound(w, r)
		return
	}
	var typ, country string
	if len(parts) > 1 {
		typ = parts[1]
	}
	if len(parts) > 2 {
		country = parts[2]
	}
	body, _ := json.Marshal(g.Entries(typ, country))
	if g.truncate.Load() {
		body = body[:len(body)/2]
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(body)
}
