package trustlist

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The client believes a signed document only under the pinned key, bounds
// every read, and tells an absent document from a failing server.
func TestClientSigned(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	body := []byte(`[{"identifier":"VR-DE-0001"}]`)
	sig, err := SignHeader(key, body)
	if err != nil {
		t.Fatal(err)
	}
	pem, _ := PublicKeyPEM(key.Public())
	mux := http.NewServeMux()
	serve := func(path string, b []byte, sig string) {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			if sig != "" {
				w.Header().Set("X-SIGNATURE", sig)
			}
			w.Write(b)
		})
	}
	serve("/base/rules", body, sig)
	serve("/base/tampered", append([]byte(" "), body...), sig)
	serve("/base/unsigned", body, "")
	serve("/base/huge", make([]byte, MaxDocumentSize+1), sig)
	serve("/base/trustList/signing-key", pem, "")
	mux.HandleFunc("/base/broken", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", http.StatusBadGateway) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	ctx := context.Background()
	c := &Client{Base: srv.URL + "/base/", Pinned: key.Public()}
	if got, err := c.Signed(ctx, "/rules"); err != nil || string(got) != string(body) {
		t.Fatalf("Signed = %q, %v", got, err)
	}
	for _, tc := range []struct {
		name   string
		client *Client
		path   string
		is     error  // errors.Is, when set
		substr string // in the message otherwise
	}{
		{"another key", &Client{Base: c.Base, Pinned: other.Public()}, "/rules", ErrBadSignature, ""},
		{"tampered body", c, "/tampered", ErrBadSignature, ""},
		{"no signature", c, "/unsigned", nil, "signature"},
		{"not served", c, "/missing", ErrNotServed, ""},
		{"server error", c, "/broken", nil, "502"},
		{"over the limit", c, "/huge", ErrTooLarge, ""},
		{"no pinned key", &Client{Base: c.Base}, "/rules", nil, "no pinned key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.client.Signed(ctx, tc.path)
			switch {
			case err == nil:
				t.Fatal("accepted")
			case tc.is != nil && !errors.Is(err, tc.is):
				t.Fatalf("error %v, want %v", err, tc.is)
			case tc.is == nil && !strings.Contains(err.Error(), tc.substr):
				t.Fatalf("error %v, want it to say %q", err, tc.substr)
			}
		})
	}
	pub, raw, err := (&Client{Base: c.Base}).SigningKey(ctx)
	if err != nil || string(raw) != string(pem) || !key.PublicKey.Equal(pub) {
		t.Fatalf("SigningKey = %v, %v", pub, err)
	}
	// A base URL with a path keeps it; an empty path reads the base itself.
	if got, _, err := (&Client{Base: srv.URL + "/base/rules"}).Get(ctx, "", 1<<10, nil); err != nil || string(got) != string(body) {
		t.Fatalf("Get of the base = %q, %v", got, err)
	}
}
