package qrscan

// Reed–Solomon decoding with erasures for QR codes. gozxing corrects errors
// only: a block of n−k check codewords fixes at most (n−k)/2 wrong ones.
// When the reader knows which codewords are doubtful, those can be declared
// erasures (position known, value not), and a block then fixes e errors and
// f erasures as long as 2e + f ≤ n−k — up to twice as many. The code is the
// QR code's: GF(256) with x⁸+x⁴+x³+x²+1, generator roots α⁰…α^(n−k−1),
// codeword 0 the coefficient of the highest power.

// gf256 holds the exponent and logarithm tables of the QR field.
type gf256 struct {
	exp [512]byte
	log [256]int
}

// qrGF is immutable once built.
var qrGF = func() *gf256 {
	f := &gf256{}
	x := 1
	for i := range 255 {
		f.exp[i] = byte(x)
		f.log[x] = i
		x <<= 1
		if x&0x100 != 0 {
			x ^= 0x11D
		}
	}
	for i := 255; i < len(f.exp); i++ {
		f.exp[i] = f.exp[i-255]
	}
	return f
}()

func (f *gf256) mul(a, b byte) byte {
	if a == 0 || b == 0 {
		return 0
	}
	return f.exp[f.log[a]+f.log[b]]
}

func (f *gf256) div(a, b byte) byte {
	if a == 0 {
		return 0
	}
	return f.exp[(f.log[a]+255-f.log[b])%255]
}

// alpha returns α^n for any integer n.
func (f *gf256) alpha(n int) byte { return f.exp[((n%255)+255)%255] }

// evalAsc evaluates p (lowest power first) at x.
func (f *gf256) evalAsc(p []byte, x byte) byte {
	var y byte
	for i := len(p) - 1; i >= 0; i-- {
		y = f.mul(y, x) ^ p[i]
	}
	return y
}

// mulAsc multiplies two polynomials, lowest power first.
func (f *gf256) mulAsc(a, b []byte) []byte {
	out := make([]byte, len(a)+len(b)-1)
	for i, x := range a {
		for j, y := range b {
			out[i+j] ^= f.mul(x, y)
		}
	}
	return out
}

// rsCorrect corrects block (data then nsym check codewords) in place, with
// the codewords at erasures declared unknown. It reports false, leaving
// block unchanged, when the errors and erasures exceed what the code
// corrects or the result is not a codeword.
func rsCorrect(block []byte, nsym int, erasures []int) bool {
	f := qrGF
	n := len(block)
	if len(erasures) > nsym || n > 255 || nsym <= 0 || nsym >= n {
		return false
	}
	msg := append([]byte(nil), block...)
	for _, p := range erasures {
		if p < 0 || p >= n {
			return false
		}
		msg[p] = 0
	}
	synd := make([]byte, nsym) // S_i = r(α^i)
	if f.syndromes(msg, synd) {
		copy(block, msg)
		return true
	}
	// Position p is the coefficient of x^(n−1−p): its locator is α^(n−1−p).
	loc := func(p int) byte { return f.alpha(n - 1 - p) }

	// Erasure locator Γ(x) = Π (1 + X_j x), lowest power first.
	gamma := []byte{1}
	for _, p := range erasures {
		gamma = f.mulAsc(gamma, []byte{1, loc(p)})
	}
	// Forney syndromes: T(x) = S(x)·Γ(x) mod x^nsym without its first f
	// coefficients, the syndromes of the errors alone.
	ef := len(erasures)
	fs := f.mulAsc(synd, gamma)[ef:nsym]
	// Berlekamp–Massey over the Forney syndromes: the shortest Λ(x) (lowest
	// power first) that generates them.
	lambda, prev := []byte{1}, []byte{1}
	l, shift := 0, 1
	var prevDelta byte = 1
	for k := range fs {
		delta := fs[k]
		for i := 1; i <= l && i < len(lambda); i++ {
			delta ^= f.mul(lambda[i], fs[k-i])
		}
		if delta == 0 {
			shift++
			continue
		}
		next := append([]byte(nil), lambda...)
		for len(next) < len(prev)+shift {
			next = append(next, 0)
		}
		scale := f.div(delta, prevDelta)
		for i, c := range prev {
			next[i+shift] ^= f.mul(scale, c)
		}
		if 2*l <= k {
			prev, l, prevDelta, shift = lambda, k+1-l, delta, 1
		} else {
			shift++
		}
		lambda = next
	}
	for len(lambda) > 1 && lambda[len(lambda)-1] == 0 {
		lambda = lambda[:len(lambda)-1]
	}
	if 2*(len(lambda)-1)+ef > nsym {
		return false
	}
	// Errata locator Ψ = Λ·Γ; its roots are the inverses of the locators.
	psi := f.mulAsc(lambda, gamma)
	var pos []int
	for p := range n {
		if f.evalAsc(psi, f.div(1, loc(p))) == 0 {
			pos = append(pos, p)
		}
	}
	if len(pos) != len(psi)-1 {
		return false // the locator's roots are not all positions: too many errors
	}
	// Forney: Ω(x) = S(x)·Ψ(x) mod x^nsym; the value at position p with
	// locator X is X·Ω(X⁻¹)/Ψ'(X⁻¹) (generator roots from α⁰).
	omega := f.mulAsc(synd, psi)[:nsym]
	dpsi := make([]byte, len(psi)) // formal derivative: odd powers only
	for i := 1; i < len(psi); i += 2 {
		dpsi[i-1] = psi[i]
	}
	for _, p := range pos {
		x := loc(p)
		xinv := f.div(1, x)
		den := f.evalAsc(dpsi, xinv)
		if den == 0 {
			return false
		}
		msg[p] ^= f.mul(x, f.div(f.evalAsc(omega, xinv), den))
	}
	if !f.syndromes(msg, synd) {
		return false
	}
	copy(block, msg)
	return true
}

// syndromes sets synd[i] to msg (highest power first) evaluated at α^i and
// reports whether all are zero. Four evaluations run side by side, each
// product taken as a sum of logarithms: one evaluation at a time waited on
// its own table look-ups. Every block a decoding reaches needs them, and
// most decodings of a scan fail.
func (f *gf256) syndromes(msg, synd []byte) bool {
	mulAlpha := func(y byte, i int) byte {
		if y == 0 {
			return 0
		}
		return f.exp[f.log[y]+i]
	}
	i := 0
	for ; i+4 <= len(synd); i += 4 {
		var y0, y1, y2, y3 byte
		for _, c := range msg {
			y0 = mulAlpha(y0, i) ^ c
			y1 = mulAlpha(y1, i+1) ^ c
			y2 = mulAlpha(y2, i+2) ^ c
			y3 = mulAlpha(y3, i+3) ^ c
		}
		synd[i], synd[i+1], synd[i+2], synd[i+3] = y0, y1, y2, y3
	}
	for ; i < len(synd); i++ {
		var y byte
		for _, c := range msg {
			y = mulAlpha(y, i) ^ c
		}
		synd[i] = y
	}
	for _, y := range synd {
		if y != 0 {
			return false
		}
	}
	return true
}
