package hcert

import (
	"bytes"
	"compress/zlib"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/greenpass-dcc/greenpass/internal/testdata"
)

// vectorSeeds returns one field of every EU test vector (hex fields decoded),
// as seed corpus for the fuzzers.
func vectorSeeds(f testing.TB, field string) [][]byte {
	f.Helper()
	paths, _ := filepath.Glob(filepath.Join(testdata.Dir(f, "dgc"), "*", "2DCode", "[Rr]aw", "*.json"))
	more, _ := filepath.Glob(filepath.Join(testdata.Dir(f, "dgc"), "common", "2DCode", "raw", "*.json"))
	var seeds [][]byte
	for _, p := range append(paths, more...) {
		raw, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		var v map[string]any
		if json.Unmarshal(raw, &v) != nil {
			continue
		}
		s, _ := v[field].(string)
		if s == "" {
			continue
		}
		switch field {
		case "COSE", "COMPRESSED", "CBOR":
			b, err := hex.DecodeString(s)
			if err != nil {
				continue
			}
			seeds = append(seeds, b)
		default:
			seeds = append(seeds, []byte(s))
		}
	}
	if len(seeds) == 0 {
		f.Fatalf("no %s seeds found", field)
	}
	return seeds
}

func FuzzDecodeBase45(f *testing.F) {
	for _, s := range vectorSeeds(f, "BASE45") {
		f.Add(string(s))
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := DecodeBase45(in)
		// AppendBase45 after a prefix, and InflateBase45 (Base45 into a
		// reused buffer, then Decompress) agree with the two steps.
		appended, aerr := AppendBase45([]byte("x"), in)
		if (err == nil) != (aerr == nil) || err == nil && !bytes.Equal(appended, append([]byte("x"), out...)) {
			t.Fatalf("AppendBase45 = %x, %v; DecodeBase45 = %x, %v", appended, aerr, out, err)
		}
		inflated, ierr := InflateBase45(in, 4096)
		want, werr := out, err
		if err == nil {
			want, werr = Decompress(out, 4096)
		}
		if (werr == nil) != (ierr == nil) || !bytes.Equal(inflated, want) || errors.Is(ierr, ErrBase45) != errors.Is(werr, ErrBase45) {
			t.Fatalf("InflateBase45 = %x, %v; the two steps = %x, %v", inflated, ierr, want, werr)
		}
		if err != nil {
			return
		}
		// Base45 is canonical: whatever decodes re-encodes to the same text.
		if back := EncodeBase45(out); back != in {
			t.Fatalf("EncodeBase45(DecodeBase45(%q)) = %q", in, back)
		}
	})
}

func FuzzDecompress(f *testing.F) {
	for _, s := range vectorSeeds(f, "COMPRESSED") {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := Decompress(in, 4096)
		if err != nil {
			return
		}
		if len(out) > 4096 {
			t.Fatalf("inflated %d bytes past the 4096 cap", len(out))
		}
		// Agree with the standard library on what the stream holds.
		zr, zerr := zlib.NewReader(bytes.NewReader(in))
		if zerr != nil {
			t.Fatalf("we accepted what compress/zlib rejects: %v", zerr)
		}
		want, rerr := io.ReadAll(zr)
		if rerr != nil || !bytes.Equal(out, want) {
			t.Fatalf("output differs from compress/zlib (err %v)", rerr)
		}
	})
}

func FuzzParseSign1(f *testing.F) {
	for _, s := range vectorSeeds(f, "COSE") {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		msg, err := ParseSign1(in)
		if err != nil {
			return
		}
		if len(msg.KID) != KIDLen || (msg.Alg != AlgES256 && msg.Alg != AlgPS256) {
			t.Fatalf("accepted kid %x alg %v", msg.KID, msg.Alg)
		}
		if s := msg.SigStructure(); !bytes.HasPrefix(s, []byte("\x84\x6aSignature1")) || !bytes.HasSuffix(s, msg.Payload) {
			t.Fatalf("bad Sig_structure %x", s)
		}
	})
}

// FuzzDecodeCBOR covers the CBOR decoding of the CWT claims and the DCC
// payload, and schema validation of whatever decodes.
func FuzzDecodeCBOR(f *testing.F) {
	for _, s := range vectorSeeds(f, "COSE") {
		if msg, err := ParseSign1(s); err == nil {
			f.Add(msg.Payload)
		}
	}
	for _, s := range vectorSeeds(f, "CBOR") {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if c, err := ParseClaims(in); err == nil {
			in = c.DCC
		}
		cert, err := DecodePayload(in)
		if err != nil {
			return
		}
		if err := cert.Validate(); err != nil && strings.TrimSpace(err.Error()) == "" {
			t.Fatal("schema error without text")
		}
		if _, err := json.Marshal(cert); err != nil {
			t.Fatalf("decoded payload does not marshal: %v", err)
		}
	})
}
