package trustlist

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/greenpass-dcc/greenpass/certlogic"
)

// Response is one app-facing document, rendered once per snapshot.
type Response struct {
	Body        []byte
	ContentType string
	// ETag is a weak entity tag (W/"…") over the document's content. It is
	// weak because the CovPass list's signature line differs from instance
	// to instance (ECDSA signatures are randomised) while the signed
	// content is the same, and because both encodings share it.
	ETag string
	// Signature is the X-SIGNATURE header value, "" when the format is
	// signed in its body.
	Signature    string
	LastModified time.Time
	// LastModifiedHeader is LastModified in the HTTP date format.
	LastModifiedHeader string
	// Header holds the document's validators as HTTP headers, made once:
	// ETag, Last-Modified and, when signed so, X-SIGNATURE.
	Header http.Header

	gzipOnce sync.Once
	gzipped  []byte
}

// Gzip is Body gzip-compressed, made on first use (most lists are never
// asked for, and the whole list takes a while); nil when compression does
// not pay.
func (r *Response) Gzip() []byte {
	r.gzipOnce.Do(func() {
		if len(r.Body) < gzipMin {
			return
		}
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
		zw.Write(r.Body)
		zw.Close()
		if buf.Len() < len(r.Body) {
			r.gzipped = buf.Bytes()
		}
	})
	return r.gzipped
}

// SignerUpdate is one DSC as GET /signercertificateUpdate hands it out.
type SignerUpdate struct {
	ID      int64
	KID     string // Base64, as in X-KID
	RawData string // Base64 DER, the response body
}

// View is a snapshot rendered in the formats apps and verifiers consume,
// signed with the trust-list key. It is immutable and safe for concurrent
// use.
type View struct {
	Hash     string
	IssuedAt time.Time
	Source   string

	list       *List
	covpass    *Response
	signingKey *Response
	status     *Response
	gateway    map[string]*Response // "" (all), "DSC", "DSC/DE", …
	updates    []SignerUpdate       // DSCs in ID order
	emptyList  *Response

	// The DGCA verifier service's delta and lookup: the DSCs listed with
	// when they came, those removed with when they went, by kid.
	listed, removed []kidAt
	byKID           map[string][]KIDData
	fullDelta       *Response

	rules         []*certlogic.Rule
	ruleList      *Response
	ruleLists     map[string]*Response // by country
	ruleDocs      map[string]*Response // country/hash
	valueSetList  *Response
	valueSetDocs  map[string]*Response // by hash
	valueSetCodes map[string][]string
	countryList   *Response
	revocations   []Revocation
	snap          *Snapshot
}

// gzipMin is the size below which bodies are sent as they are.
const gzipMin = 1024

// NewView renders snap (whose address is hash) and signs the lists with
// signer (ECDSA P-256). DSC entries whose certificate does not parse are
// left out of the verifier's list and returned as errors; the published
// documents carry the entries as the snapshot has them.
func NewView(snap *Snapshot, hash string, signer crypto.Signer) (*View, []error) {
	v := &View{Hash: hash, IssuedAt: snap.IssuedAt, Source: snap.Source, gateway: map[string]*Response{},
		ruleLists: map[string]*Response{}, ruleDocs: map[string]*Response{}, valueSetDocs: map[string]*Response{}}
	var errs []error
	mk := func(contentType string, content, body []byte, signHeader bool) *Response {
		r, err := newResponse(contentType, content, body, snap.IssuedAt, signer, signHeader)
		if err != nil {
			errs = append(errs, err)
		}
		return r
	}

	dscs := snap.OfType(TypeDSC)
	var parsed []*DSC
	kids := make([]string, 0, len(dscs))
	v.byKID = map[string][]KIDData{}
	for _, e := range dscs {
		kids = append(kids, e.KID)
		v.updates = append(v.updates, SignerUpdate{ID: e.ID, KID: e.KID, RawData: e.RawData})
		v.listed = append(v.listed, kidAt{e.KID, e.Since})
		v.byKID[e.KID] = append(v.byKID[e.KID], KIDData{Country: e.Country, KID: e.KID, RawData: e.RawData})
		d, err := e.dsc()
		if err != nil {
			errs = append(errs, fmt.Errorf("snapshot entry %d (kid %s, %s): %w", e.ID, e.KID, e.Country, err))
			continue
		}
		parsed = append(parsed, d)
	}
	v.list = NewList(parsed...)
	for _, r := range snap.Removed {
		if r.CertificateType == TypeDSC {
			v.removed = append(v.removed, kidAt{r.KID, r.At})
			v.byKID[r.KID] = append(v.byKID[r.KID], KIDData{Country: r.Country, KID: r.KID, RawData: r.RawData})
		}
	}
	v.fullDelta = v.delta(time.Time{})

	// CovPass: Base64 r‖s signature line, then the JSON it signs.
	if covJSON, sig, err := covPassList(snap, signer); err != nil {
		errs = append(errs, err)
		v.covpass = mk("text/plain; charset=utf-8", covJSON, covJSON, false)
	} else {
		body := append([]byte(base64.StdEncoding.EncodeToString(sig)+"\n"), covJSON...)
		v.covpass = mk("text/plain; charset=utf-8", covJSON, body, false)
	}

	if pemKey, err := PublicKeyPEM(signer.Public()); err != nil {
		errs = append(errs, err)
	} else {
		v.signingKey = mk("application/x-pem-file", pemKey, pemKey, false)
	}
	statusJSON, _ := json.Marshal(nonNil(kids))
	v.status = mk("application/json", statusJSON, statusJSON, true)

	// Gateway lists: everything, per type, per type and country.
	groups := map[string][]Entry{"": {}}
	for _, e := range snap.Entries {
		groups[""] = append(groups[""], e.Entry)
		groups[e.CertificateType] = append(groups[e.CertificateType], e.Entry)
		groups[e.CertificateType+"/"+e.Country] = append(groups[e.CertificateType+"/"+e.Country], e.Entry)
	}
	for key, entries := range groups {
		slices.SortStableFunc(entries, func(a, b Entry) int { return cmp.Compare(a.KID, b.KID) })
		body, _ := json.Marshal(entries)
		v.gateway[key] = mk("application/json", body, body, true)
	}
	v.emptyList = mk("application/json", []byte("[]"), []byte("[]"), true)
	errs = append(errs, v.renderRules(snap, mk)...)
	v.revocations = snap.Revocations
	v.snap = snap
	return v, errs
}

// OfType is the snapshot's entries of a certificate type, as published.
func (v *View) OfType(typ string) []SnapshotEntry { return v.snap.OfType(typ) }

// NewDocument is a Response for a document signed in its body (no
// X-SIGNATURE): its ETag is over content, its Last-Modified modified.
func NewDocument(contentType string, content, body []byte, modified time.Time) *Response {
	r, _ := newResponse(contentType, content, body, modified, nil, false)
	return r
}

// covPassList is the JSON of the CovPass DSC list — issue time and the
// DSC entries sorted by kid, as the gateway sorts them — and its raw r‖s
// signature.
func covPassList(snap *Snapshot, signer crypto.Signer) (body, sig []byte, err error) {
	dscs := snap.OfType(TypeDSC)
	entries := make([]Entry, 0, len(dscs))
	for _, e := range dscs {
		entries = append(entries, e.Entry)
	}
	slices.SortStableFunc(entries, func(a, b Entry) int { return cmp.Compare(a.KID, b.KID) })
	body, err = json.Marshal(struct {
		IssuedAt     time.Time `json:"issuedAt"`
		Certificates []Entry   `json:"certificates"`
	}{snap.IssuedAt, entries})
	if err != nil {
		return nil, nil, err
	}
	sig, err = SignList(signer, body)
	return body, sig, err
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func newResponse(contentType string, content, body []byte, modified time.Time, signer crypto.Signer, signHeader bool) (*Response, error) {
	r := &Response{Body: body, ContentType: contentType, ETag: `W/"` + sha256Hex(content) + `"`, LastModified: modified,
		LastModifiedHeader: modified.UTC().Format(http.TimeFormat)}
	r.Header = http.Header{"Etag": {r.ETag}, "Last-Modified": {r.LastModifiedHeader}}
	if signHeader {
		sig, err := SignHeader(signer, body)
		if err != nil {
			return r, err
		}
		r.Signature = sig
		r.Header["X-Signature"] = []string{sig}
	}
	return r, nil
}

// List is the snapshot's DSCs for verification.
func (v *View) List() *List { return v.list }

// CovPassList is GET /trustList/DSC/: the signed DSC list.
func (v *View) CovPassList() *Response { return v.covpass }

// SigningKey is GET /trustList/signing-key: the trust-list key (PEM).
func (v *View) SigningKey() *Response { return v.signingKey }

// SignerStatus is GET /signercertificateStatus: the kids of all DSCs.
func (v *View) SignerStatus() *Response { return v.status }

// GatewayList is GET /trustList[/{type}[/{country}]] in the gateway's
// TrustListDto format; typ "" lists every entry. ok is false for an
// unknown type; known types without entries give an empty list.
func (v *View) GatewayList(typ, country string) (r *Response, ok bool) {
	switch typ {
	case "", TypeDSC, TypeCSCA, TypeUpload, TypeAuthentication:
	default:
		return nil, false
	}
	key := typ
	if country != "" {
		key += "/" + country
	}
	if r, found := v.gateway[key]; found {
		return r, true
	}
	return v.emptyList, true
}

// SignerUpdate is the DSC after resume token after (0: the first), as GET
// /signercertificateUpdate pages them; ok is false past the last.
func (v *View) SignerUpdate(after int64) (SignerUpdate, bool) {
	i := sort.Search(len(v.updates), func(i int) bool { return v.updates[i].ID > after })
	if i == len(v.updates) {
		return SignerUpdate{}, false
	}
	return v.updates[i], true
}

// kidAt is a DSC's kid with when it came or went.
type kidAt struct {
	KID string
	At  time.Time
}

// KIDData is a DSC as POST /signercertificateUpdate answers it.
type KIDData struct {
	Country string `json:"-"`
	KID     string `json:"kid"`
	RawData string `json:"rawData"`
}

// Delta is GET /signercertificateStatus/delta: the kids of the DSCs listed
// after since ("updated") and of those removed after it ("deleted"); all of
// them for a zero since.
func (v *View) Delta(since time.Time) *Response {
	if since.IsZero() {
		return v.fullDelta
	}
	return v.delta(since)
}

func (v *View) delta(since time.Time) *Response {
	pick := func(items []kidAt) []string {
		out := []string{}
		for _, it := range items {
			if since.IsZero() || it.At.After(since) {
				out = append(out, it.KID)
			}
		}
		return out
	}
	body, _ := json.Marshal(struct {
		Updated []string `json:"updated"`
		Deleted []string `json:"deleted"`
	}{pick(v.listed), pick(v.removed)})
	r, _ := newResponse("application/json", body, body, v.IssuedAt, nil, false)
	return r
}

// Lookup is POST /signercertificateUpdate: the DSCs (listed, or removed
// within RemovedKeep) with the kids asked for, by country.
func (v *View) Lookup(kids []string) map[string][]KIDData {
	out := map[string][]KIDData{}
	asked := map[string]bool{}
	for _, kid := range kids {
		if asked[kid] {
			continue
		}
		asked[kid] = true
		for _, d := range v.byKID[kid] {
			out[d.Country] = append(out[d.Country], d)
		}
	}
	return out
}

// TrustedIssuers is GET /trustedissuers: the trusted issuers of the DGCA
// verifier service (DID and HTTP issuer URLs). None are synced: an empty,
// signed list.
func (v *View) TrustedIssuers() *Response { return v.emptyList }

// UpstreamRevocations are the revocation entries the sync imported.
func (v *View) UpstreamRevocations() []Revocation { return v.revocations }

// Age is how old the snapshot is at now.
func (v *View) Age(now time.Time) time.Duration { return now.Sub(v.IssuedAt) }
