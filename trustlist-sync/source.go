// Package trustlistsync is the nightly trust-list sync: it fetches the
// upstream gateway's trust list (or a file of the same format), verifies
// every entry — the CMS signature by the trust anchor or the country's
// upload certificate, the DSC's chain to a CSCA of the same country,
// validity dates — drops and reports the bad ones, refuses a list that
// lost too much of the last good one, and publishes the rest as a new
// snapshot plus plain mirror files. When anything fails the last good
// snapshot stays current.
package trustlistsync

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"

	"github.com/greenpass-dcc/greenpass/trustlist"
)

// MaxListSize bounds one upstream list; the whole EU list is about 10 MB.
const MaxListSize = 128 << 20

// Upstream is what a source delivered, by certificate type.
type Upstream struct {
	CSCAs, Uploads, DSCs []trustlist.Entry
	// Other counts entries of types the sync does not use
	// (AUTHENTICATION, unknown).
	Other int
	// Vouched says the source verified the list as a whole (a DID
	// document's proof under the pinned key): its CSCAs carry no CMS
	// signature of their own, and no upload certificates sign its DSCs.
	// Each DSC's chain to a CSCA of its country is still checked.
	Vouched bool
}

func (u *Upstream) add(e trustlist.Entry) {
	switch e.CertificateType {
	case trustlist.TypeCSCA:
		u.CSCAs = append(u.CSCAs, e)
	case trustlist.TypeUpload:
		u.Uploads = append(u.Uploads, e)
	case trustlist.TypeDSC:
		u.DSCs = append(u.DSCs, e)
	default:
		u.Other++
	}
}

// Source delivers the upstream trust list. A source that verifies the
// list itself (DID) also implements Vouching and needs no trust anchors.
type Source interface {
	// Fetch returns the upstream entries; progress is told the bytes read
	// so far.
	Fetch(ctx context.Context, progress func(bytes int64)) (*Upstream, error)
	// String names the source for reports and logs, without credentials.
	String() string
}

// Vouching is a source that checks the list's own signature.
type Vouching interface{ Vouches() bool }

// Gateway is a source with the DCCG API: GET {base}/trustList/{CSCA,
// UPLOAD,DSC}. The client carries the mTLS client certificate when the
// gateway needs one.
type Gateway struct {
	Base   string
	Client *http.Client
}

func (g *Gateway) String() string {
	if u, err := url.Parse(g.Base); err == nil {
		u.User, u.RawQuery = nil, ""
		return u.String()
	}
	return "gateway"
}

// Fetch implements Source.
func (g *Gateway) Fetch(ctx context.Context, progress func(int64)) (*Upstream, error) {
	up := &Upstream{}
	var read int64
	for _, typ := range []string{trustlist.TypeCSCA, trustlist.TypeUpload, trustlist.TypeDSC} {
		entries, n, err := g.list(ctx, typ, func(n int64) {
			if progress != nil {
				progress(read + n)
			}
		})
		read += n
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if e.CertificateType != typ {
				up.Other++ // the gateway answered another type than asked
				continue
			}
			up.add(e)
		}
	}
	return up, nil
}

func (g *Gateway) list(ctx context.Context, typ string, progress func(int64)) ([]trustlist.Entry, int64, error) {
	body, _, err := g.client().Get(ctx, "/trustList/"+typ, MaxListSize, progress)
	if err != nil {
		return nil, int64(len(body)), fmt.Errorf("upstream %s: %w", g, err)
	}
	var entries []trustlist.Entry
	if err := json.Unmarshal(body, &entries); err != nil {
		return nil, int64(len(body)), fmt.Errorf("upstream %s: /trustList/%s is not a trust list: %w", g, typ, err)
	}
	return entries, int64(len(body)), nil
}

// File is a source reading a file in the gateway's GET /trustList format:
// one JSON array of entries of every type.
type File struct{ Path string }

func (f *File) String() string { return f.Path }

// Fetch implements Source.
func (f *File) Fetch(ctx context.Context, progress func(int64)) (*Upstream, error) {
	fh, err := os.Open(f.Path)
	if err != nil {
		return nil, fmt.Errorf("upstream file: %w", err)
	}
	defer fh.Close()
	body, err := trustlist.ReadCapped(fh, MaxListSize, progress)
	if err != nil {
		return nil, fmt.Errorf("upstream file %s: %w", f.Path, err)
	}
	var entries []trustlist.Entry
	if err := json.Unmarshal(body, &entries); err != nil {
		return nil, fmt.Errorf("upstream file %s is not a trust list: %w", f.Path, err)
	}
	up := &Upstream{}
	for _, e := range entries {
		up.add(e)
	}
	return up, nil
}

// client reads the gateway's lists: their entries are CMS-signed one by
// one, so no key is pinned for the lists themselves. Without a client of
// its own, the sync's context bounds each request.
func (g *Gateway) client() *trustlist.Client { return listClient(g.Base, g.Client) }

// listClient reads trust data from base with hc (http.DefaultClient when
// nil: the sync's context bounds each request).
func listClient(base string, hc *http.Client) *trustlist.Client {
	if hc == nil {
		hc = http.DefaultClient
	}
	return &trustlist.Client{Base: base, HTTP: hc}
}
