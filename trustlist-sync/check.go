package trustlistsync

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smallstep/pkcs7"

	"github.com/greenpass-dcc/greenpass/trustlist"
)

// Code says why an entry was dropped.
type Code string

// Reasons an entry is dropped.
const (
	CodeMalformed    Code = "MALFORMED"     // rawData not Base64 or not a certificate
	CodeThumbprint   Code = "THUMBPRINT"    // thumbprint ≠ SHA-256(rawData)
	CodeKID          Code = "KID"           // kid ≠ first 8 bytes of the thumbprint
	CodeCountry      Code = "COUNTRY"       // country missing, malformed or not the certificate's
	CodeCMSMissing   Code = "CMS_MISSING"   // no signature
	CodeCMSInvalid   Code = "CMS_INVALID"   // not a CMS SignedData, or it does not verify over rawData
	CodeCMSSigner    Code = "CMS_SIGNER"    // signed by someone else than the trust anchor / the country's upload certificate
	CodeNoCSCA       Code = "NO_CSCA"       // no CSCA of the DSC's country issued it
	CodeExpired      Code = "EXPIRED"       // past its notAfter
	CodeNotYetValid  Code = "NOT_YET_VALID" // before its notBefore
	CodeOutsideCSCA  Code = "OUTSIDE_CSCA"  // issued outside its CSCA's validity
	CodeDuplicate    Code = "DUPLICATE"     // the same certificate listed twice
	CodeUnknownTypes Code = "UNKNOWN_TYPE"  // not CSCA, UPLOAD or DSC (counted, not listed)
)

// Drop is an entry left out, with the reason.
type Drop struct {
	Type    string `json:"type"`
	Country string `json:"country"`
	KID     string `json:"kid"`
	Code    Code   `json:"code"`
	Detail  string `json:"detail"`
}

func (d Drop) String() string {
	return fmt.Sprintf("%s %s kid %s: %s: %s", d.Type, d.Country, d.KID, d.Code, d.Detail)
}

// Checked is the outcome of checking an upstream list.
type Checked struct {
	CSCAs, Uploads, DSCs []trustlist.Entry
	Dropped              []Drop
}

// checkedCert is an entry whose certificate was parsed.
type checkedCert struct {
	entry trustlist.Entry
	cert  *x509.Certificate
}

// Check verifies every entry at now against the trust anchors:
//   - every entry: rawData parses, thumbprint and kid match it, the
//     country is two letters and the certificate's own (when it names
//     one), the certificate is within its validity;
//   - CSCA and UPLOAD entries: a detached CMS over rawData, signed by a
//     trust anchor;
//   - DSC entries: a detached CMS over rawData, signed by an upload
//     certificate of the same country; issued (X.509 signature, issuer DN)
//     by a CSCA of the same country, within that CSCA's validity.
//
// A vouched list (a DID document whose proof the source verified) has no
// CMS signatures: its CSCAs are taken as the proof vouches for them, its
// DSCs still need their chain to a CSCA of the same country.
//
// progress, when set, is told how many DSCs have been checked.
func Check(up *Upstream, anchors []*x509.Certificate, now time.Time, progress func(done, total int)) *Checked {
	out := &Checked{}
	seen := map[string]bool{}
	drop := func(e trustlist.Entry, code Code, format string, a ...any) {
		out.Dropped = append(out.Dropped, Drop{Type: e.CertificateType, Country: e.Country, KID: e.KID, Code: code, Detail: fmt.Sprintf(format, a...)})
	}
	if up.Other > 0 {
		out.Dropped = append(out.Dropped, Drop{Code: CodeUnknownTypes, Detail: fmt.Sprintf("%d entries of other types ignored", up.Other)})
	}

	// authorities checks CSCA or UPLOAD entries: signed by a trust anchor.
	authorities := func(entries []trustlist.Entry) (map[string][]checkedCert, []trustlist.Entry) {
		byCountry := map[string][]checkedCert{}
		var accepted []trustlist.Entry
		for _, e := range entries {
			c, d := checkEntry(e, now, seen)
			if d == nil && !up.Vouched {
				d = checkCMS(e, c.Raw, anchors)
			}
			if d != nil {
				out.Dropped = append(out.Dropped, *d)
				continue
			}
			byCountry[e.Country] = append(byCountry[e.Country], checkedCert{e, c})
			accepted = append(accepted, e)
		}
		return byCountry, accepted
	}
	var cscas, uploads map[string][]checkedCert
	cscas, out.CSCAs = authorities(up.CSCAs)
	uploads, out.Uploads = authorities(up.Uploads)

	// DSCs are the bulk: checked in parallel, results kept in list order.
	type result struct {
		ok   bool
		drop *Drop
	}
	results := make([]result, len(up.DSCs))
	dupe := make([]bool, len(up.DSCs))
	for i, e := range up.DSCs {
		key := strings.ToLower(e.Thumbprint)
		if seen[trustlist.TypeDSC+key] && key != "" {
			dupe[i] = true
			continue
		}
		seen[trustlist.TypeDSC+key] = true
	}
	var done atomic.Int64
	var wg sync.WaitGroup
	next := atomic.Int64{}
	workers := runtime.GOMAXPROCS(0)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(up.DSCs) {
					return
				}
				if !dupe[i] {
					d := checkDSC(up.DSCs[i], now, cscas, uploads, up.Vouched)
					results[i] = result{ok: d == nil, drop: d}
				}
				if n := done.Add(1); progress != nil && (n%256 == 0 || int(n) == len(up.DSCs)) {
					progress(int(n), len(up.DSCs))
				}
			}
		}()
	}
	wg.Wait()
	for i, r := range results {
		switch {
		case dupe[i]:
			drop(up.DSCs[i], CodeDuplicate, "listed before")
		case r.ok:
			out.DSCs = append(out.DSCs, up.DSCs[i])
		default:
			out.Dropped = append(out.Dropped, *r.drop)
		}
	}
	return out
}

// checkEntry checks what every entry must satisfy and parses its
// certificate. seen catches CSCA/UPLOAD duplicates.
func checkEntry(e trustlist.Entry, now time.Time, seen map[string]bool) (*x509.Certificate, *Drop) {
	drop := func(code Code, format string, a ...any) *Drop {
		return &Drop{Type: e.CertificateType, Country: e.Country, KID: e.KID, Code: code, Detail: fmt.Sprintf(format, a...)}
	}
	der, err := base64.StdEncoding.DecodeString(e.RawData)
	if err != nil || len(der) == 0 {
		return nil, drop(CodeMalformed, "rawData is not Base64")
	}
	sum := sha256.Sum256(der)
	if !strings.EqualFold(e.Thumbprint, hex.EncodeToString(sum[:])) {
		return nil, drop(CodeThumbprint, "thumbprint is not the SHA-256 of rawData")
	}
	if e.KID != "" && e.KID != base64.StdEncoding.EncodeToString(sum[:8]) {
		return nil, drop(CodeKID, "kid is not the first 8 bytes of the thumbprint")
	}
	if seen != nil {
		key := e.CertificateType + hex.EncodeToString(sum[:])
		if seen[key] {
			return nil, drop(CodeDuplicate, "listed before")
		}
		seen[key] = true
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, drop(CodeMalformed, "rawData is not an X.509 certificate: %v", err)
	}
	if len(e.Country) != 2 || strings.ToUpper(e.Country) != e.Country {
		return nil, drop(CodeCountry, "country %q is not ISO 3166-1 alpha-2", e.Country)
	}
	if c := cert.Subject.Country; len(c) > 0 && !strings.EqualFold(c[0], e.Country) {
		return nil, drop(CodeCountry, "listed for %s, the certificate names C=%s", e.Country, c[0])
	}
	if now.After(cert.NotAfter) {
		return nil, drop(CodeExpired, "expired %s", cert.NotAfter.UTC().Format(time.DateOnly))
	}
	if now.Before(cert.NotBefore) {
		return nil, drop(CodeNotYetValid, "valid from %s", cert.NotBefore.UTC().Format(time.DateOnly))
	}
	return cert, nil
}

// checkCMS verifies the entry's detached CMS over der and that its one
// signer is among signers (compared as DER).
func checkCMS(e trustlist.Entry, der []byte, signers []*x509.Certificate) *Drop {
	drop := func(code Code, format string, a ...any) *Drop {
		return &Drop{Type: e.CertificateType, Country: e.Country, KID: e.KID, Code: code, Detail: fmt.Sprintf(format, a...)}
	}
	if e.Signature == "" {
		return drop(CodeCMSMissing, "no CMS signature")
	}
	raw, err := base64.StdEncoding.DecodeString(e.Signature)
	if err != nil {
		return drop(CodeCMSInvalid, "signature is not Base64")
	}
	p7, err := pkcs7.Parse(raw)
	if err != nil {
		return drop(CodeCMSInvalid, "not a CMS SignedData: %v", err)
	}
	if p7.Content != nil && !bytes.Equal(p7.Content, der) {
		return drop(CodeCMSInvalid, "the CMS carries other content than rawData")
	}
	p7.Content = der
	signer := p7.GetOnlySigner()
	if signer == nil {
		return drop(CodeCMSInvalid, "the CMS has not exactly one signer with its certificate")
	}
	trusted := false
	for _, s := range signers {
		if bytes.Equal(s.Raw, signer.Raw) {
			trusted = true
			break
		}
	}
	if !trusted {
		return drop(CodeCMSSigner, "signed by %q, not by a trusted signer", signer.Subject.String())
	}
	if err := p7.Verify(); err != nil {
		return drop(CodeCMSInvalid, "CMS signature does not verify: %v", err)
	}
	return nil
}

func checkDSC(e trustlist.Entry, now time.Time, cscas, uploads map[string][]checkedCert, vouched bool) *Drop {
	cert, d := checkEntry(e, now, nil)
	if d != nil {
		return d
	}
	if !vouched {
		var signers []*x509.Certificate
		for _, u := range uploads[e.Country] {
			signers = append(signers, u.cert)
		}
		if d := checkCMS(e, cert.Raw, signers); d != nil {
			if d.Code == CodeCMSSigner {
				d.Detail += " of " + e.Country
			}
			return d
		}
	}
	for _, c := range cscas[e.Country] {
		if !bytes.Equal(c.cert.RawSubject, cert.RawIssuer) || cert.CheckSignatureFrom(c.cert) != nil {
			continue
		}
		if cert.NotBefore.Before(c.cert.NotBefore) || cert.NotBefore.After(c.cert.NotAfter) {
			return &Drop{Type: e.CertificateType, Country: e.Country, KID: e.KID, Code: CodeOutsideCSCA,
				Detail: "issued outside its CSCA's validity"}
		}
		return nil
	}
	return &Drop{Type: e.CertificateType, Country: e.Country, KID: e.KID, Code: CodeNoCSCA,
		Detail: fmt.Sprintf("no CSCA of %s issued it (issuer %q)", e.Country, cert.Issuer.String())}
}
