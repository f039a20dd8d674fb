package qrscan

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/makiuchi-d/gozxing/common/reedsolomon"
)

// evalDesc evaluates p (highest power first) at x, one product at a time:
// the definition syndromes is checked against.
func (f *gf256) evalDesc(p []byte, x byte) byte {
	var y byte
	for _, c := range p {
		y = f.mul(y, x) ^ c
	}
	return y
}

// qrBlock encodes data with nsym check codewords by gozxing's encoder.
func qrBlock(t testing.TB, data []byte, nsym int) []byte {
	t.Helper()
	ints := make([]int, len(data)+nsym)
	for i, b := range data {
		ints[i] = int(b)
	}
	if err := reedsolomon.NewReedSolomonEncoder(reedsolomon.GenericGF_QR_CODE_FIELD_256).Encode(ints, nsym); err != nil {
		t.Fatal(err)
	}
	out := make([]byte, len(ints))
	for i, v := range ints {
		out[i] = byte(v)
	}
	return out
}

func TestRSCorrectErrorsAndErasures(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, shape := range []struct{ data, nsym int }{{19, 7}, {97, 26}, {116, 28}, {15, 30}, {1, 2}} {
		for trial := range 300 {
			data := make([]byte, shape.data)
			for i := range data {
				data[i] = byte(rng.IntN(256))
			}
			want := qrBlock(t, data, shape.nsym)
			n := len(want)
			// e errors and f erasures with 2e + f ≤ nsym: always corrected.
			f := rng.IntN(shape.nsym + 1)
			e := rng.IntN((shape.nsym-f)/2 + 1)
			perm := rng.Perm(n)
			got := append([]byte(nil), want...)
			erasures := perm[:f]
			for _, p := range erasures {
				got[p] = byte(rng.IntN(256)) // an erased codeword's value is anything
			}
			for _, p := range perm[f : f+e] {
				got[p] ^= byte(1 + rng.IntN(255))
			}
			if !rsCorrect(got, shape.nsym, erasures) || !bytes.Equal(got, want) {
				t.Fatalf("%d+%d, trial %d: %d errors, %d erasures not corrected", shape.data, shape.nsym, trial, e, f)
			}
		}
	}
}

func TestRSCorrectRefusesTooMany(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	data := make([]byte, 97)
	for i := range data {
		data[i] = byte(rng.IntN(256))
	}
	want := qrBlock(t, data, 26)
	wrong := 0
	for range 300 {
		got := append([]byte(nil), want...)
		for _, p := range rng.Perm(len(got))[:20] { // 20 errors: 2e = 40 > 26
			got[p] ^= byte(1 + rng.IntN(255))
		}
		before := append([]byte(nil), got...)
		if rsCorrect(got, 26, nil) {
			wrong++ // a miscorrection to another codeword: possible, rare
			continue
		}
		if !bytes.Equal(got, before) {
			t.Fatal("a refused block was changed")
		}
	}
	if wrong > 3 {
		t.Fatalf("%d of 300 blocks with 20 errors 'corrected'", wrong)
	}
	if rsCorrect(append([]byte(nil), want...), 26, make([]int, 27)) {
		t.Fatal("more erasures than check codewords accepted")
	}
}

// FuzzRSCorrect: any block, check count and erasure list: no panic, and a
// block reported corrected is a codeword (its syndromes vanish), changed
// in no more places than the code corrects.
func FuzzRSCorrect(f *testing.F) {
	f.Add(qrBlock(f, []byte("hello, world"), 10), uint8(10), []byte{0, 3})
	f.Add(make([]byte, 30), uint8(26), []byte{})
	f.Fuzz(func(t *testing.T, block []byte, nsym uint8, erase []byte) {
		var erasures []int
		seen := map[int]bool{}
		for _, e := range erase {
			if p := int(e); p < len(block) && !seen[p] {
				seen[p] = true
				erasures = append(erasures, p)
			}
		}
		got := append([]byte(nil), block...)
		if !rsCorrect(got, int(nsym), erasures) {
			if !bytes.Equal(got, block) {
				t.Fatal("a refused block was changed")
			}
			return
		}
		for i := range int(nsym) {
			if qrGF.evalDesc(got, qrGF.alpha(i)) != 0 {
				t.Fatal("corrected block is not a codeword")
			}
		}
		changed := 0
		for i := range got {
			if got[i] != block[i] && !seen[i] {
				changed++
			}
		}
		if 2*changed+len(erasures) > int(nsym) {
			t.Fatalf("%d errors and %d erasures corrected with %d check codewords", changed, len(erasures), nsym)
		}
	})
}

// syndromes computes each syndrome as evalDesc evaluates it, for counts
// of syndromes on and off its groups of four, and says "all zero" exactly
// for codewords.
func TestSyndromesMatchEvaluation(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	f := qrGF
	codewords := 0
	for _, nsym := range []int{1, 2, 3, 4, 5, 7, 26, 30} {
		for trial := range 60 {
			msg := make([]byte, 1+rng.IntN(200))
			for i := range msg {
				if rng.IntN(8) > 0 { // and some zeros
					msg[i] = byte(rng.IntN(256))
				}
			}
			if trial%3 == 0 {
				msg = qrBlock(t, msg, nsym)
			}
			synd := make([]byte, nsym)
			clean := f.syndromes(msg, synd)
			zero := true
			for i := range synd {
				want := f.evalDesc(msg, f.alpha(i))
				if synd[i] != want {
					t.Fatalf("nsym %d, %d codewords: syndrome %d is %d, want %d", nsym, len(msg), i, synd[i], want)
				}
				zero = zero && want == 0
			}
			if clean != zero {
				t.Fatalf("nsym %d: all zero %v, reported %v", nsym, zero, clean)
			}
			if clean {
				codewords++
			}
		}
	}
	if codewords < 100 {
		t.Fatalf("only %d codewords among the messages", codewords)
	}
}
