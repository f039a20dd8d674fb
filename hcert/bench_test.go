package hcert

import "testing"

// Per-stage costs of decoding one DCC, to see where a verification's time
// goes beside the signature check (verifier.BenchmarkVerifyHC1 is the whole).
func BenchmarkStages(b *testing.B) {
	raw := vectorSeeds(b, "COSE")[0] // the AT vector set comes first: a real ES256 DCC
	text := EncodeText(raw)
	b45, _ := TrimPrefix(text)
	compressed, _ := DecodeBase45(b45)
	msg, _ := ParseSign1(raw)
	claims, _ := ParseClaims(msg.Payload)
	cert, _ := DecodePayload(claims.DCC)
	b.Run("base45", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			DecodeBase45(b45)
		}
	})
	b.Run("zlib", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			Decompress(compressed, 0)
		}
	})
	b.Run("cose", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ParseSign1(raw)
		}
	})
	b.Run("digest", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			msg.digest()
		}
	})
	b.Run("claims", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ParseClaims(msg.Payload)
		}
	})
	b.Run("payload", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			DecodePayload(claims.DCC)
		}
	})
	b.Run("schema", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			cert.Validate()
		}
	})
}
