package hcert

import (
	"fmt"
	"slices"
	"strings"
)

// base45Alphabet is the RFC 9285 alphabet; a character's value is its index.
const base45Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"

// base45Value maps a byte to its Base45 value, or -1.
var base45Value = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i := range len(base45Alphabet) {
		t[base45Alphabet[i]] = int8(i)
	}
	return t
}()

// EncodeBase45 encodes data as RFC 9285 Base45.
func EncodeBase45(data []byte) string {
	var b strings.Builder
	b.Grow(len(data)/2*3 + 2)
	for i := 0; i+1 < len(data); i += 2 {
		n := int(data[i])<<8 | int(data[i+1])
		b.WriteByte(base45Alphabet[n%45])
		b.WriteByte(base45Alphabet[n/45%45])
		b.WriteByte(base45Alphabet[n/2025])
	}
	if len(data)%2 == 1 {
		n := int(data[len(data)-1])
		b.WriteByte(base45Alphabet[n%45])
		b.WriteByte(base45Alphabet[n/45])
	}
	return b.String()
}

// DecodeBase45 decodes RFC 9285 Base45 strictly: only the 45 upper-case
// alphabet characters, no dangling single character, no group whose value
// overflows its byte count.
func DecodeBase45(text string) ([]byte, error) { return AppendBase45(nil, text) }

// AppendBase45 appends the Base45 decoding of text to dst, as DecodeBase45
// decodes it: with a reused dst, decoding allocates nothing.
func AppendBase45(dst []byte, text string) ([]byte, error) {
	if len(text)%3 == 1 {
		return nil, fmt.Errorf("%w: length %d leaves a dangling character", ErrBase45, len(text))
	}
	o := len(dst)
	dst = slices.Grow(dst, len(text)/3*2+len(text)%3/2)
	out := dst[:o+len(text)/3*2+len(text)%3/2]
	i := 0
	for ; i+3 <= len(text); i += 3 {
		c, d, e := base45Value[text[i]], base45Value[text[i+1]], base45Value[text[i+2]]
		if c|d|e < 0 {
			return nil, badBase45Char(text, i, 3)
		}
		n := int(c) + int(d)*45 + int(e)*2025
		if n > 0xFFFF {
			return nil, fmt.Errorf("%w: group %q at offset %d exceeds 65535", ErrBase45, text[i:i+3], i)
		}
		out[o], out[o+1] = byte(n>>8), byte(n)
		o += 2
	}
	if i < len(text) { // final group of two characters
		c, d := base45Value[text[i]], base45Value[text[i+1]]
		if c|d < 0 {
			return nil, badBase45Char(text, i, 2)
		}
		n := int(c) + int(d)*45
		if n > 0xFF {
			return nil, fmt.Errorf("%w: final group %q exceeds 255", ErrBase45, text[i:])
		}
		out[o] = byte(n)
	}
	return out, nil
}

// InflateBase45 decodes the Base45 text of a DCC (without its prefix) and
// inflates it, as DecodeBase45 then Decompress would, the Base45 bytes in a
// reused buffer: only the COSE message returned is allocated. Errors wrap
// ErrBase45 for the first step, Decompress's sentinels for the second.
func InflateBase45(text string, max int) ([]byte, error) {
	f := inflaters.Get().(*inflater)
	defer inflaters.Put(f)
	compressed, err := AppendBase45(f.in[:0], text)
	if err != nil {
		return nil, err
	}
	if cap(compressed) <= MaxTextLen {
		f.in = compressed[:0]
	}
	return f.inflate(compressed, max)
}

// badBase45Char reports the first character of text[i:i+n] outside the alphabet.
func badBase45Char(text string, i, n int) error {
	for j := i; j < i+n; j++ {
		if base45Value[text[j]] < 0 {
			return fmt.Errorf("%w: character %q at offset %d is not in the alphabet", ErrBase45, text[j], j)
		}
	}
	return fmt.Errorf("%w: at offset %d", ErrBase45, i)
}
