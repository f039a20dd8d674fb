package trustlistsync

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/greenpass-dcc/greenpass/didtrust"
	"github.com/greenpass-dcc/greenpass/trustlist"
)

// DID is a source reading a WHO GDHCN trust list: the SCA document
// (-/-/SCA) and the DSC document of the domain ({domain}/-/DSC) under Base,
// each of which must carry the DID it was fetched as and a proof that
// verifies under Key. Each DSC is taken from its entry's x5c[0] (its kid
// recomputed), and must chain to an SCA of its country from the SCA
// document; a DSC gone from the document is gone from the list.
type DID struct {
	// Base is the list root: a did:web DID (did:web:tng-cdn.who.int:v2:trustlist)
	// or its URL (https://tng-cdn.who.int/v2/trustlist; http only as a URL).
	Base string
	// Key is the publisher's signing key: WHO's, from its signing DID
	// document, or another publisher's.
	Key    *ecdsa.PublicKey
	Domain string // DCC when empty
	Client *http.Client
}

// Vouches implements Vouching: the documents' proofs vouch for the entries.
func (d *DID) Vouches() bool { return true }

func (d *DID) String() string {
	if u, err := d.root(); err == nil {
		return u.String()
	}
	return "DID trust list"
}

// root is the URL of the list root, without /did.json.
func (d *DID) root() (*url.URL, error) {
	if strings.HasPrefix(d.Base, "did:") {
		u, err := didtrust.URLOf(d.Base)
		if err != nil {
			return nil, err
		}
		u.Path = strings.TrimSuffix(u.Path, "/did.json")
		return u, nil
	}
	u, err := url.Parse(strings.TrimSuffix(strings.TrimSuffix(d.Base, "/did.json"), "/"))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("DID trust list %q: neither a did:web DID nor an http(s) URL", d.Base)
	}
	u.User, u.RawQuery = nil, ""
	return u, nil
}

// Fetch implements Source.
func (d *DID) Fetch(ctx context.Context, progress func(int64)) (*Upstream, error) {
	if d.Key == nil {
		return nil, fmt.Errorf("DID trust list %s: no signing key pinned", d)
	}
	root, err := d.root()
	if err != nil {
		return nil, err
	}
	domain := d.Domain
	if domain == "" {
		domain = didtrust.DomainDCC
	}
	client := listClient(root.String(), d.Client)
	up := &Upstream{Vouched: true}
	var read int64
	for _, doc := range []struct{ path, usage, typ string }{
		{"/-/-/SCA/did.json", didtrust.UsageSCA, trustlist.TypeCSCA},
		{"/" + domain + "/-/DSC/did.json", didtrust.UsageDSC, trustlist.TypeDSC},
	} {
		before := read
		body, _, err := client.Get(ctx, doc.path, didtrust.MaxDocumentBytes, func(n int64) {
			if read = before + n; progress != nil {
				progress(read)
			}
		})
		if err != nil {
			return nil, fmt.Errorf("upstream %s: %w", d, err)
		}
		u := *root
		u.Path += doc.path
		listed, err := didtrust.Open(body, d.Key, didtrust.DIDOf(&u))
		if err != nil {
			return nil, fmt.Errorf("upstream %s%s: %w", d, doc.path, err)
		}
		up.Other += len(listed.Dropped)
		for _, e := range listed.Entries {
			if (e.KeyUsage != "" && e.KeyUsage != doc.usage) || (e.Domain != "" && e.Domain != domain) {
				up.Other++ // a document of mixed levels: not this one's
				continue
			}
			leaf := e.Chain[0]
			country := countryOf(leaf, e.Participant)
			if p := didtrust.Alpha2(e.Participant); p != "" && p != country {
				up.Other++ // listed under another participant than its certificate names
				continue
			}
			up.add(trustlist.NewEntry(doc.typ, country, leaf.Raw))
		}
	}
	return up, nil
}

// countryOf is the entry's country: the certificate's own (C of the
// subject), else the participant's. Where both are known they must agree.
func countryOf(c *x509.Certificate, participant string) string {
	if len(c.Subject.Country) > 0 {
		return strings.ToUpper(c.Subject.Country[0])
	}
	return didtrust.Alpha2(participant)
}
