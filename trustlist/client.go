package trustlist

import (
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/greenpass-dcc/greenpass/certlogic"
)

// ErrNotServed: the server answered 404 — it does not publish that document.
var ErrNotServed = errors.New("not served")

// ErrTooLarge: a document is larger than the limit it is read with.
var ErrTooLarge = errors.New("document larger than allowed")

// DefaultTimeout bounds one request of a Client without its own HTTP client.
const DefaultTimeout = 30 * time.Second

// Client reads what a trust-list node publishes — a greenpass server, the
// gateway, a DGCA business-rule service — with every read bounded in bytes
// and, where a key is pinned, every signed document checked against it.
// It is the one HTTP client of trust data: verify, wallet and the sync's
// sources all use it.
type Client struct {
	// Base is the node's base URL; paths are appended to it as given.
	Base string
	// Pinned is the node's trust-list key: signed documents must verify
	// under it. Nil only where signatures are checked otherwise (the
	// gateway's CMS-signed entries).
	Pinned crypto.PublicKey
	// HTTP is the client requests go through; nil: one with
	// DefaultTimeout.
	HTTP *http.Client
}

// Get reads Base+path: the body and headers of a 200, at most limit bytes,
// telling progress (may be nil) the bytes read so far. A 404 is
// ErrNotServed.
func (c *Client) Get(ctx context.Context, path string, limit int64, progress func(int64)) ([]byte, http.Header, error) {
	location := strings.TrimRight(c.Base, "/") + path
	if path == "" {
		location = c.Base
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, location, nil)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Accept", "application/json")
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: DefaultTimeout}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		return nil, nil, fmt.Errorf("GET %s: %w", location, ErrNotServed)
	default:
		return nil, nil, fmt.Errorf("GET %s: %s", location, resp.Status)
	}
	body, err := ReadCapped(resp.Body, limit, progress)
	if err != nil {
		return nil, nil, fmt.Errorf("GET %s: %w", location, err)
	}
	return body, resp.Header, nil
}

// ReadCapped reads r to its end, at most limit bytes (ErrTooLarge past
// that), telling progress (may be nil) the bytes read so far.
func ReadCapped(r io.Reader, limit int64, progress func(int64)) ([]byte, error) {
	var buf []byte
	chunk := make([]byte, 256<<10)
	for {
		n, err := r.Read(chunk)
		buf = append(buf, chunk[:n]...)
		if int64(len(buf)) > limit {
			return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, limit)
		}
		if progress != nil && n > 0 {
			progress(int64(len(buf)))
		}
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// Signed reads a document whose X-SIGNATURE header must verify under the
// pinned key.
func (c *Client) Signed(ctx context.Context, path string) ([]byte, error) {
	if c.Pinned == nil {
		return nil, errors.New("trust list: no pinned key to check signed documents with")
	}
	body, header, err := c.Get(ctx, path, MaxDocumentSize, nil)
	if err != nil {
		return nil, err
	}
	if err := VerifyHeader(c.Pinned, body, header.Get("X-SIGNATURE")); err != nil {
		return nil, fmt.Errorf("GET %s: %w under the pinned key", path, err)
	}
	return body, nil
}

// SigningKey reads the node's trust-list key (to pin on first use) and
// its PEM.
func (c *Client) SigningKey(ctx context.Context) (crypto.PublicKey, []byte, error) {
	body, _, err := c.Get(ctx, "/trustList/signing-key", 1<<20, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("trust-list key: %w", err)
	}
	pub, err := ParsePublicKey(body)
	return pub, body, err
}

// DSCList reads the CovPass DSC list at path (a greenpass server's is
// /trustList/DSC/) and checks its signature under the pinned key.
func (c *Client) DSCList(ctx context.Context, path string) (*Document, error) {
	if c.Pinned == nil {
		return nil, errors.New("trust list: no pinned key to check the list with")
	}
	body, _, err := c.Get(ctx, path, MaxDocumentSize, nil)
	if err != nil {
		return nil, err
	}
	doc, err := ParseDocument(body)
	if err != nil {
		return nil, err
	}
	if err := doc.Verify(c.Pinned); err != nil {
		return nil, fmt.Errorf("trust list: %w under the pinned key", err)
	}
	return doc, nil
}

// Rules reads the business rules and the value sets they refer to (value
// set id → codes), each document checked against its hash address and its
// signature.
func (c *Client) Rules(ctx context.Context) ([]*certlogic.Rule, map[string][]string, error) {
	body, err := c.Signed(ctx, "/rules")
	if err != nil {
		return nil, nil, err
	}
	var list []RuleEntry
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, nil, fmt.Errorf("/rules: %w", err)
	}
	var rules []*certlogic.Rule
	for _, e := range list {
		doc, err := c.Signed(ctx, "/rules/"+url.PathEscape(e.Country)+"/"+url.PathEscape(e.Hash))
		if err != nil {
			return nil, nil, err
		}
		entry, r, err := NewRuleEntry(doc)
		if err != nil {
			return nil, nil, fmt.Errorf("rule %s: %w", e.Identifier, err)
		}
		if entry.Hash != e.Hash {
			return nil, nil, fmt.Errorf("rule %s does not hash to its address", e.Identifier)
		}
		rules = append(rules, r)
	}
	if body, err = c.Signed(ctx, "/valuesets"); err != nil {
		return nil, nil, err
	}
	var sets []ValueSetEntry
	if err := json.Unmarshal(body, &sets); err != nil {
		return nil, nil, fmt.Errorf("/valuesets: %w", err)
	}
	valueSets := map[string][]string{}
	for _, s := range sets {
		doc, err := c.Signed(ctx, "/valuesets/"+url.PathEscape(s.Hash))
		if err != nil {
			return nil, nil, err
		}
		entry, err := NewValueSetEntry(doc)
		if err != nil {
			return nil, nil, err
		}
		if entry.Hash != s.Hash {
			return nil, nil, fmt.Errorf("value set %s does not hash to its address", s.ID)
		}
		valueSets[entry.ID] = entry.Codes()
	}
	return rules, valueSets, nil
}

// Revocations reads every revocation list the node publishes.
func (c *Client) Revocations(ctx context.Context) (*RevocationList, error) {
	body, err := c.Signed(ctx, "/revocation/lists")
	if err != nil {
		return nil, err
	}
	var idx RevocationIndex
	if err := json.Unmarshal(body, &idx); err != nil {
		return nil, fmt.Errorf("/revocation/lists: %w", err)
	}
	var entries []Revocation
	for _, l := range idx.Lists {
		kid, err := base64.StdEncoding.DecodeString(l.KID)
		if err != nil {
			return nil, fmt.Errorf("revocation index: kid %q is not Base64", l.KID)
		}
		doc, err := c.Signed(ctx, "/revocation/lists/"+base64.RawURLEncoding.EncodeToString(kid))
		if err != nil {
			return nil, err
		}
		es, err := ParseRevocationDoc(doc)
		if err != nil {
			return nil, err
		}
		entries = append(entries, es...)
	}
	return NewRevocationList(entries...), nil
}
