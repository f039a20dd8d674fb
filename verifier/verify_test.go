package verifier

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/png"
	"math/big"
	"testing"
	"time"

	"github.com/greenpass-dcc/greenpass/hcert"
	"github.com/greenpass-dcc/greenpass/qrscan"
	"github.com/greenpass-dcc/greenpass/trustlist"
)

var (
	oidTest   = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 1847, 2021, 1, 1}
	oidVacc   = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 1847, 2021, 1, 2}
	oidRecAlt = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 0, 1847, 2021, 1, 3} // governance-doc spelling
	oidICAO   = asn1.ObjectIdentifier{2, 23, 136, 1, 1, 14, 2}
)

var (
	dscFrom = time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)
	dscTo   = time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC)
	issued  = time.Date(2021, 6, 1, 0, 0, 0, 0, time.UTC)
	expires = time.Date(2022, 6, 1, 0, 0, 0, 0, time.UTC)
	during  = time.Date(2021, 7, 1, 0, 0, 0, 0, time.UTC)
)

// newDSC makes a self-signed DSC with the given key, EKUs and validity.
func newDSC(t testing.TB, key crypto.Signer, ekus []asn1.ObjectIdentifier, from, to time.Time) *trustlist.DSC {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber:       big.NewInt(1),
		Subject:            pkix.Name{CommonName: "test DSC", Country: []string{"DE"}},
		NotBefore:          from,
		NotAfter:           to,
		UnknownExtKeyUsage: ekus,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	dsc, err := trustlist.NewDSC(der, "")
	if err != nil {
		t.Fatal(err)
	}
	return dsc
}

func issueText(t testing.TB, key crypto.Signer, kid []byte, cert *hcert.Certificate, iat, exp time.Time) string {
	t.Helper()
	msg, err := hcert.Sign(rand.Reader, key, kid, hcert.Claims{Issuer: "DE", IssuedAt: iat, ExpiresAt: exp}, cert)
	if err != nil {
		t.Fatal(err)
	}
	return hcert.EncodeText(msg)
}

func vaccination() *hcert.Certificate {
	return &hcert.Certificate{
		Version: "1.3.0", Name: hcert.Name{FamilyStandard: "MUSTER", GivenStandard: "ERIKA"}, DateOfBirth: "1964-08-12",
		Vaccinations: []hcert.Vaccination{{Target: "840539006", Vaccine: "1119349007", Product: "EU/1/20/1528",
			Manufacturer: "ORG-100030215", DoseNumber: 2, TotalDoses: 2, Date: "2021-05-29", Country: "DE", Issuer: "RKI", ID: "URN:UVCI:01:DE:X#1"}},
	}
}

func testCert() *hcert.Certificate {
	c := vaccination()
	c.Vaccinations = nil
	c.Tests = []hcert.Test{{Target: "840539006", TestType: "LP217198-3", Device: "1232", SampledAt: "2021-05-29T10:00:00Z",
		Result: "260415000", Country: "DE", Issuer: "RKI", ID: "URN:UVCI:01:DE:Y#2"}}
	return c
}

func recovery() *hcert.Certificate {
	c := vaccination()
	c.Vaccinations = nil
	c.Recoveries = []hcert.Recovery{{Target: "840539006", FirstPositive: "2021-01-10", Country: "DE", Issuer: "RKI",
		ValidFrom: "2021-01-21", ValidUntil: "2021-07-10", ID: "URN:UVCI:01:DE:Z#3"}}
	return c
}

func TestKeyUsage(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tests := []struct {
		name string
		ekus []asn1.ObjectIdentifier
		cert *hcert.Certificate
		want Outcome
	}{
		{"no EKU allows vaccination", nil, vaccination(), Pass},
		{"no EKU allows recovery", nil, recovery(), Pass},
		{"vaccination OID, vaccination cert", []asn1.ObjectIdentifier{oidVacc}, vaccination(), Pass},
		{"test OID, vaccination cert (TD CO6)", []asn1.ObjectIdentifier{oidTest}, vaccination(), Fail},
		{"vaccination OID, test cert (TD CO8)", []asn1.ObjectIdentifier{oidVacc}, testCert(), Fail},
		{"alternative recovery OID, recovery cert", []asn1.ObjectIdentifier{oidRecAlt}, recovery(), Pass},
		{"alternative recovery OID, test cert", []asn1.ObjectIdentifier{oidRecAlt}, testCert(), Fail},
		{"test+vaccination OIDs, test cert", []asn1.ObjectIdentifier{oidTest, oidVacc}, testCert(), Pass},
		{"only an ICAO EKU allows all (IS/3 reading of CovPass/CWA)", []asn1.ObjectIdentifier{oidICAO}, recovery(), Pass},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dsc := newDSC(t, key, tt.ekus, dscFrom, dscTo)
			text := issueText(t, key, dsc.KID, tt.cert, issued, expires)
			r := New(trustlist.NewList(dsc), WithClock(func() time.Time { return during })).VerifyText(context.Background(), text)
			if got := r.Stages.Get(StageKeyUsage); got != tt.want {
				t.Fatalf("keyUsage = %s, want %s (reasons %v)", got, tt.want, r.Reasons)
			}
			if r.Valid != (tt.want == Pass) {
				t.Fatalf("valid = %v with keyUsage %s", r.Valid, tt.want)
			}
		})
	}
}

func TestExpiry(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	dsc := newDSC(t, key, nil, dscFrom, dscTo)
	tests := []struct {
		name     string
		iat, exp time.Time
		clock    time.Time
		skew     time.Duration
		codes    []Code
	}{
		{"within every bound", issued, expires, during, 0, nil},
		{"at exp exactly", issued, expires, expires, 0, nil},
		// The same instants written in other zones are the same values.
		{"at exp exactly, clock in +02:00", issued, expires, expires.In(time.FixedZone("", 2*3600)), 0, nil},
		{"at iat exactly, clock in -05:00", issued, expires, issued.In(time.FixedZone("", -5*3600)), 0, nil},
		{"a second after exp, clock in +14:00", issued, expires, expires.Add(time.Second).In(time.FixedZone("", 14*3600)), 0, []Code{CodeCertExpired}},
		{"after exp (TD CO17)", issued, expires, expires.Add(time.Second), 0, []Code{CodeCertExpired}},
		{"before iat (TD CO16)", issued, expires, issued.Add(-time.Minute), 0, []Code{CodeCertNotYetValid}},
		{"before iat within allowed skew", issued, expires, issued.Add(-time.Minute), 5 * time.Minute, nil},
		{"after the DSC expired", issued, dscTo, dscTo.Add(time.Hour), 0, []Code{CodeCertExpired, CodeDSCExpired}},
		{"issued before the DSC", dscFrom.Add(-time.Hour), expires, during, 0, []Code{CodeIssuedBeforeDSC}},
		{"expires after the DSC", issued, dscTo.Add(time.Hour), during, 0, []Code{CodeOutlivesDSC}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := issueText(t, key, dsc.KID, vaccination(), tt.iat, tt.exp)
			r := New(trustlist.NewList(dsc), WithClock(func() time.Time { return tt.clock }), WithClockSkew(tt.skew)).
				VerifyText(context.Background(), text)
			var got []Code
			for _, reason := range r.Reasons {
				got = append(got, reason.Code)
			}
			if len(got) != len(tt.codes) {
				t.Fatalf("reasons %v, want codes %v", r.Reasons, tt.codes)
			}
			for i := range got {
				if got[i] != tt.codes[i] {
					t.Fatalf("reasons %v, want codes %v", r.Reasons, tt.codes)
				}
			}
			if want := len(tt.codes) == 0; r.Valid != want || (r.Stages.Get(StageExpiry) == Pass) != want {
				t.Fatalf("valid=%v expiry=%s, want valid %v", r.Valid, r.Stages.Get(StageExpiry), want)
			}
		})
	}
}

func TestTrustLookup(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	dsc := newDSC(t, key, nil, dscFrom, dscTo)
	otherDSC := newDSC(t, other, nil, dscFrom, dscTo)
	rsaDSC := newDSC(t, rsaKey, nil, dscFrom, dscTo)
	p384DSC := newDSC(t, p384, nil, dscFrom, dscTo)
	clock := WithClock(func() time.Time { return during })

	// A DSC that shares the kid of another (kids are 8 bytes; collisions are
	// allowed by HCERT §3.3.3 and every candidate must be tried).
	collide := *otherDSC
	collide.KID = dsc.KID
	wrongKID := []byte{1, 2, 3, 4, 5, 6, 7, 8}

	tests := []struct {
		name   string
		list   *trustlist.List
		signer crypto.Signer
		kid    []byte
		opts   []Option
		stage  Outcome
		code   Code
	}{
		{"kid found", trustlist.NewList(dsc), key, dsc.KID, nil, Pass, ""},
		{"kid unknown", trustlist.NewList(otherDSC), key, dsc.KID, nil, Fail, CodeDSCUnknown},
		{"kid collision: second candidate verifies", trustlist.NewList(&collide, dsc), key, dsc.KID, nil, Pass, ""},
		{"wrong kid without fallback (TD CO22/CO23)", trustlist.NewList(dsc), key, wrongKID, nil, Fail, CodeDSCUnknown},
		{"wrong kid with fallback (CovPass/CWA)", trustlist.NewList(otherDSC, dsc), key, wrongKID, []Option{WithKIDFallback()}, Pass, ""},
		{"fallback finds nothing", trustlist.NewList(otherDSC), key, wrongKID, []Option{WithKIDFallback()}, Fail, CodeSignatureInvalid},
		{"signed by another key", trustlist.NewList(&collide), key, dsc.KID, nil, Fail, CodeSignatureInvalid},
		{"PS256", trustlist.NewList(rsaDSC), rsaKey, rsaDSC.KID, nil, Pass, ""},
		{"ES256 message, RSA DSC", trustlist.NewList(func() *trustlist.DSC { d := *rsaDSC; d.KID = dsc.KID; return &d }()), key, dsc.KID, nil, Fail, CodeKeyMismatch},
		{"P-384 DSC cannot verify (TD ES 401-403)", trustlist.NewList(func() *trustlist.DSC { d := *p384DSC; d.KID = dsc.KID; return &d }()), key, dsc.KID, nil, Fail, CodeKeyMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := issueText(t, tt.signer, tt.kid, vaccination(), issued, expires)
			r := New(tt.list, append(tt.opts, clock)...).VerifyText(context.Background(), text)
			if got := r.Stages.Get(StageSignature); got != tt.stage {
				t.Fatalf("signature = %s, want %s (%v)", got, tt.stage, r.Reasons)
			}
			if tt.code != "" && (len(r.Reasons) == 0 || r.Reasons[0].Code != tt.code) {
				t.Fatalf("reasons %v, want %s", r.Reasons, tt.code)
			}
			if tt.stage == Pass {
				return
			}
			// After a failed signature every other stage is still reported
			// (the EU test data scores them on their own): key usage against
			// the DSC the kid names, when one does, and the certificate's
			// times; the verdict stays invalid.
			wantKeyUsage := Skipped
			if tt.code != CodeDSCUnknown && len(tt.opts) == 0 { // the kid names a trusted DSC
				wantKeyUsage = Pass
			}
			if r.Valid || r.Stages.Get(StageKeyUsage) != wantKeyUsage || r.Stages.Get(StageExpiry) != Pass || r.Stages.Get(StageSchema) != Pass {
				t.Fatalf("valid=%v stages %+v after a failed signature, want keyUsage %s and expiry pass", r.Valid, r.Stages, wantKeyUsage)
			}
		})
	}
}

func TestDecodingFailuresAreStages(t *testing.T) {
	v := New(nil)
	tests := []struct {
		name  string
		text  string
		stage Stage
		code  Code
	}{
		{"empty", "", StagePrefix, CodePrefixMissing},
		{"HC2", "HC2:NCF", StagePrefix, CodePrefixUnsupported},
		{"too long", "HC1:" + string(bytes.Repeat([]byte("A"), 5000)), StagePrefix, CodeInputTooLong},
		{"lower-case base45", "HC1:ncf", StageBase45, CodeBase45Invalid},
		{"not zlib", "HC1:" + hcert.EncodeBase45([]byte{0xD2, 0x84, 0x40}), StageZlib, CodeNotCompressed},
		{"zlib of garbage", "HC1:" + hcert.EncodeBase45(hcert.Compress([]byte("garbage"))), StageCOSE, CodeCOSEMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := v.VerifyText(context.Background(), tt.text)
			if r.Valid || r.Stages.Get(tt.stage) != Fail || len(r.Reasons) != 1 || r.Reasons[0].Code != tt.code {
				t.Fatalf("stages %v reasons %v, want %s to fail with %s", r.Stages, r.Reasons, tt.stage, tt.code)
			}
			for _, s := range stageOrder {
				if s != tt.stage && r.Stages.Get(s) == Fail {
					t.Fatalf("stage %s failed too", s)
				}
			}
		})
	}
}

func TestImageLimits(t *testing.T) {
	// A PNG header claiming 10000×10000 pixels must be refused before
	// decoding (qrscan.TestInspect has the size limits themselves).
	var buf bytes.Buffer
	png.Encode(&buf, image.NewGray(image.Rect(0, 0, 1, 1)))
	huge := buf.Bytes()
	// IHDR width/height live at bytes 16–23, its CRC at 29–32.
	copy(huge[16:], []byte{0, 0, 0x27, 0x10, 0, 0, 0x27, 0x10})
	binary.BigEndian.PutUint32(huge[29:], crc32.ChecksumIEEE(huge[12:29]))
	v := New(nil)
	tests := []struct {
		name string
		data []byte
		code Code
	}{
		{"a header declaring more pixels than its bytes hold", huge, CodeImageUnreadable},
		{"too many bytes", make([]byte, qrscan.MaxImageBytes+1), CodeImageTooLarge},
		{"not an image", []byte("\x00\x01 not an image at all"), CodeImageUnreadable},
		{"GIF header claiming 25120×29813 pixels", []byte("GIF89a but not really"), CodeImageUnreadable},
		{"blank image", buf.Bytes()[:0:0], CodeImageUnreadable},
	}
	blank := new(bytes.Buffer)
	png.Encode(blank, image.NewGray(image.Rect(0, 0, 200, 200)))
	tests = append(tests, struct {
		name string
		data []byte
		code Code
	}{"no QR code", blank.Bytes(), CodeQRNotFound})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := v.VerifyImage(context.Background(), tt.data)
			if r.Valid || r.Stages.Get(StagePicture) != Fail || r.Reasons[0].Code != tt.code {
				t.Fatalf("picture %s reasons %v, want %s", r.Stages.Get(StagePicture), r.Reasons, tt.code)
			}
		})
	}
}

// mustDecode returns the COSE_Sign1 message of an HC1 text.
func mustDecode(t testing.TB, text string) *hcert.Sign1 {
	t.Helper()
	u, err := hcert.Decode(text)
	if err != nil {
		t.Fatal(err)
	}
	return u.Sign1
}
