package trustlist

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ecdsa"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"sort"
	"testing"
	"time"
)

func testView(t *testing.T) (*View, *Snapshot, []SnapshotEntry, *ecdsa.PrivateKey) {
	t.Helper()
	dscs := []SnapshotEntry{
		snapEntry(TypeDSC, "DE", selfSigned(t, "DE")),
		snapEntry(TypeDSC, "DE", selfSigned(t, "DE")),
		snapEntry(TypeDSC, "AT", selfSigned(t, "AT")),
	}
	broken := snapEntry(TypeDSC, "FR", []byte{0x30, 0x03, 0x02, 0x01, 0x01})
	csca := snapEntry(TypeCSCA, "DE", selfSigned(t, "DE"))
	snap := NewSnapshot(nil, time.Date(2026, 11, 30, 3, 0, 0, 0, time.UTC), "test", append(dscs, broken, csca))
	signer := newKey(t)
	v, errs := NewView(snap, "hash", signer)
	if len(errs) != 1 {
		t.Fatalf("errors %v, want one for the broken DSC", errs)
	}
	return v, snap, dscs, signer
}

func TestViewCovPassListIsSignedAndParses(t *testing.T) {
	signer := newKey(t)
	snap := NewSnapshot(nil, time.Date(2026, 11, 30, 3, 0, 0, 0, time.UTC), "test",
		[]SnapshotEntry{snapEntry(TypeDSC, "DE", selfSigned(t, "DE")), snapEntry(TypeCSCA, "DE", selfSigned(t, "DE"))})
	v, errs := NewView(snap, "h", signer)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	r := v.CovPassList()
	doc, err := ParseDocument(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Verify(signer.Public()); err != nil {
		t.Fatalf("signature: %v", err)
	}
	if err := doc.Verify(newKey(t).Public()); err == nil {
		t.Fatal("verified under another key")
	}
	dscs, bad := doc.DSCs()
	if len(dscs) != 1 || len(bad) != 0 {
		t.Fatalf("the list holds %d DSCs (%v), want only the one DSC", len(dscs), bad)
	}
	var issued struct {
		IssuedAt time.Time `json:"issuedAt"`
	}
	if json.Unmarshal(doc.JSON, &issued); !issued.IssuedAt.Equal(snap.IssuedAt) {
		t.Fatalf("issuedAt %v, want %v", issued.IssuedAt, snap.IssuedAt)
	}
	// Tampering with the JSON breaks the signature.
	tampered := bytes.Replace(r.Body, []byte(`"DE"`), []byte(`"XX"`), 1)
	if doc, _ := ParseDocument(tampered); doc.Verify(signer.Public()) == nil {
		t.Fatal("a tampered list verified")
	}
	// The signing key is served as PEM that ParsePublicKey reads back.
	pub, err := ParsePublicKey(v.SigningKey().Body)
	if err != nil || !signer.PublicKey.Equal(pub) {
		t.Fatalf("signing key: %v", err)
	}
}

func TestViewGatewayListsAndStatus(t *testing.T) {
	v, snap, dscs, _ := testView(t)
	count := func(r *Response) int {
		var entries []Entry
		if err := json.Unmarshal(r.Body, &entries); err != nil {
			t.Fatal(err)
		}
		if !sort.SliceIsSorted(entries, func(i, j int) bool { return entries[i].KID < entries[j].KID }) {
			t.Error("gateway list not sorted by kid")
		}
		return len(entries)
	}
	for _, tc := range []struct {
		typ, country string
		want         int
	}{
		{"", "", len(snap.Entries)}, {TypeDSC, "", 4}, {TypeDSC, "DE", 2}, {TypeDSC, "AT", 1},
		{TypeCSCA, "", 1}, {TypeUpload, "", 0}, {TypeDSC, "PL", 0},
	} {
		r, ok := v.GatewayList(tc.typ, tc.country)
		if !ok || count(r) != tc.want {
			t.Errorf("GatewayList(%q, %q) = %v entries, want %d", tc.typ, tc.country, ok, tc.want)
		}
		if err := VerifyHeader(v.signingKeyPublic(t), r.Body, r.Signature); err != nil {
			t.Errorf("GatewayList(%q, %q) X-SIGNATURE: %v", tc.typ, tc.country, err)
		}
	}
	if _, ok := v.GatewayList("dsc", ""); ok {
		t.Error("lower-case type accepted")
	}
	var kids []string
	if err := json.Unmarshal(v.SignerStatus().Body, &kids); err != nil || len(kids) != 4 {
		t.Fatalf("status %s: %v", v.SignerStatus().Body, err)
	}
	if v.List().Len() != len(dscs) {
		t.Fatalf("verifier list has %d DSCs, want %d (the broken one left out)", v.List().Len(), len(dscs))
	}
	// Paging through /signercertificateUpdate returns every DSC once, in ID order.
	var got []int64
	for after := int64(0); ; {
		u, ok := v.SignerUpdate(after)
		if !ok {
			break
		}
		got = append(got, u.ID)
		after = u.ID
	}
	if len(got) != 4 || !sort.SliceIsSorted(got, func(i, j int) bool { return got[i] < got[j] }) {
		t.Fatalf("paged ids %v", got)
	}
	// Large bodies carry a gzip form of the same bytes.
	r, _ := v.GatewayList("", "")
	zr, err := gzip.NewReader(bytes.NewReader(r.Gzip()))
	if err != nil {
		t.Fatal(err)
	}
	if plain, _ := io.ReadAll(zr); !bytes.Equal(plain, r.Body) {
		t.Fatal("gzip body differs")
	}
}

func (v *View) signingKeyPublic(t *testing.T) any {
	t.Helper()
	pub, err := ParsePublicKey(v.SigningKey().Body)
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

func TestMirror(t *testing.T) {
	ctx := context.Background()
	b := NewMemBucket()
	v, snap, dscs, signer := testView(t)
	st, err := Mirror(ctx, b, snap, signer)
	if err != nil {
		t.Fatal(err)
	}
	if st.Written != 4 || st.Deleted != 0 {
		t.Fatalf("first mirror %+v, want 4 written", st)
	}
	for _, e := range dscs {
		kid, _ := base64.StdEncoding.DecodeString(e.KID)
		der, err := b.ReadAll(ctx, "dsc/"+hex.EncodeToString(kid)+".der")
		if err != nil || base64.StdEncoding.EncodeToString(der) != e.RawData {
			t.Fatalf("dsc file of %s: %v", e.KID, err)
		}
	}
	list, _ := b.ReadAll(ctx, "trustlist.json")
	sig, _ := b.ReadAll(ctx, "trustlist.json.sig")
	rawSig, _ := base64.StdEncoding.DecodeString(string(sig))
	if err := VerifyList(v.signingKeyPublic(t), list, rawSig); err != nil {
		t.Fatalf("mirrored list signature: %v", err)
	}
	// A later view without one DSC: unchanged files are kept, the gone one deleted.
	st, err = Mirror(ctx, b, NewSnapshot(nil, time.Now(), "test", dscs[1:]), newKey(t))
	if err != nil || st.Written != 0 || st.Kept != 2 || st.Deleted != 2 {
		t.Fatalf("second mirror %+v, %v; want 2 kept, 2 deleted", st, err)
	}
}
