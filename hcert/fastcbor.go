package hcert

import (
	"math"
	"unicode/utf8"
)

// fastReader walks CBOR of the shape every real DCC has (definite lengths,
// no tags, known keys, each once) without reflection and with one string
// allocation for all text values. It never decides anything: on any other
// shape it reports !ok and the caller decodes the same bytes with the
// strict reflective decoder (decMode), which then accepts or refuses them
// as it always did. So a fast path may only succeed where the slow path
// succeeds with the same result; the differential fuzz target
// FuzzFastPaths holds every fast path to that.
type fastReader struct {
	b   []byte
	s   string // b as one string, made on first use: text values are substrings of it
	off int
}

// head reads an item's initial byte and argument. Indefinite lengths and
// reserved additional information are not the fast path's business.
func (r *fastReader) head() (major byte, arg uint64, ok bool) {
	if r.off >= len(r.b) {
		return 0, 0, false
	}
	c := r.b[r.off]
	major, ai := c>>5, c&0x1F
	r.off++
	switch {
	case ai < 24:
		return major, uint64(ai), true
	case ai <= 27:
		n := 1 << (ai - 24)
		if len(r.b)-r.off < n {
			return 0, 0, false
		}
		for _, x := range r.b[r.off : r.off+n] {
			arg = arg<<8 | uint64(x)
		}
		r.off += n
		return major, arg, true
	}
	return 0, 0, false
}

// payloadLen checks that a string of n bytes fits in what is left.
func (r *fastReader) payloadLen(n uint64) (int, bool) {
	if n > uint64(len(r.b)-r.off) {
		return 0, false
	}
	return int(n), true
}

// text reads a text string of valid UTF-8.
func (r *fastReader) text() (string, bool) {
	m, arg, ok := r.head()
	if !ok || m != majorText {
		return "", false
	}
	n, ok := r.payloadLen(arg)
	if !ok {
		return "", false
	}
	if r.s == "" {
		r.s = string(r.b)
	}
	s := r.s[r.off : r.off+n]
	if !utf8.ValidString(s) {
		return "", false
	}
	r.off += n
	return s, true
}

// container reads the head of an array or map (per major) of at most
// maxElements entries, the decoder's bound.
func (r *fastReader) container(major byte) (int, bool) {
	m, n, ok := r.head()
	if !ok || m != major || n > maxElements {
		return 0, false
	}
	return int(n), true
}

// count reads an unsigned integer that fits a Count.
func (r *fastReader) count() (Count, bool) {
	m, n, ok := r.head()
	if !ok || m != majorUint || n > math.MaxInt32 {
		return 0, false
	}
	return Count(n), true
}

// intKey reads an integer map key.
func (r *fastReader) intKey() (int64, bool) {
	m, n, ok := r.head()
	switch {
	case !ok || n > math.MaxInt32:
		return 0, false
	case m == majorUint:
		return int64(n), true
	case m == majorNegInt:
		return -1 - int64(n), true
	}
	return 0, false
}

// item returns the next item whole, aliasing the input (as rawItem does).
// It accepts less than the decoder's well-formedness check, never more:
// definite lengths, no tags, simple values and floats only as RFC 8949
// defines them, nesting well within maxNesting (depth counts the enclosing
// levels). Like that check it leaves UTF-8 to whoever decodes the text.
func (r *fastReader) item(depth int) (rawItem, bool) {
	start := r.off
	if !r.skip(depth) {
		return nil, false
	}
	return rawItem(r.b[start:r.off:r.off]), true
}

func (r *fastReader) skip(depth int) bool {
	if depth >= maxNesting-2 { // well inside the decoder's bound
		return false
	}
	at := r.off
	m, arg, ok := r.head()
	if !ok {
		return false
	}
	switch m {
	case majorUint, majorNegInt:
		return true
	case majorBytes, majorText:
		n, ok := r.payloadLen(arg)
		if !ok {
			return false
		}
		r.off += n
		return true
	case majorArray, majorMap:
		if arg > maxElements {
			return false
		}
		n := int(arg)
		if m == majorMap {
			n *= 2
		}
		for range n {
			if !r.skip(depth + 1) {
				return false
			}
		}
		return true
	case majorSimple:
		// false, true, null, undefined, and the three float widths.
		ai := r.b[at] & 0x1F
		return ai >= 20 && ai <= 23 || ai >= 25 && ai <= 27
	}
	return false // tags
}

// done reports whether the whole input was read.
func (r *fastReader) done() bool { return r.off == len(r.b) }

// The top-level keys of a payload that fastPayload reports as seen (the
// groups need no bit: an absent group is an empty one).
const (
	seenVer = 1 << iota
	seenDob
	seenNam
	seenV
	seenT
	seenR
)

var topKeys = []struct {
	bit uint8
	key string
}{{seenVer, "ver"}, {seenDob, "dob"}, {seenNam, "nam"}}

// fastPayload decodes a DCC payload of the common shape into c and reports
// which top-level keys it held.
func fastPayload(raw []byte, c *Certificate) (seen uint8, ok bool) {
	r := fastReader{b: raw}
	n, ok := r.container(majorMap)
	if !ok {
		return 0, false
	}
	for range n {
		k, ok := r.text()
		if !ok {
			return 0, false
		}
		var bit uint8
		switch k {
		case "ver":
			bit = seenVer
			c.Version, ok = r.text()
		case "dob":
			bit = seenDob
			c.DateOfBirth, ok = r.text()
		case "nam":
			bit = seenNam
			ok = fastStruct(&r, &c.Name, nameField)
		case "v":
			bit = seenV
			c.Vaccinations, ok = fastEntries(&r, vaccinationField)
		case "t":
			bit = seenT
			c.Tests, ok = fastEntries(&r, testField)
		case "r":
			bit = seenR
			c.Recoveries, ok = fastEntries(&r, recoveryField)
		}
		if bit == 0 || seen&bit != 0 || !ok {
			return 0, false
		}
		seen |= bit
	}
	return seen, r.done()
}

// A fieldFunc names where key goes in e: a text field or a Count, and the
// field's bit (0: not a field of e).
type fieldFunc[E any] func(e *E, key string) (*string, *Count, uint32)

func fastEntries[E any](r *fastReader, field fieldFunc[E]) ([]E, bool) {
	n, ok := r.container(majorArray)
	if !ok {
		return nil, false
	}
	out := make([]E, n)
	for i := range out {
		if !fastStruct(r, &out[i], field) {
			return nil, false
		}
	}
	return out, true
}

func fastStruct[E any](r *fastReader, e *E, field fieldFunc[E]) bool {
	n, ok := r.container(majorMap)
	if !ok {
		return false
	}
	var seen uint32
	for range n {
		k, ok := r.text()
		if !ok {
			return false
		}
		s, c, bit := field(e, k)
		if bit == 0 || seen&bit != 0 {
			return false
		}
		seen |= bit
		if s != nil {
			*s, ok = r.text()
		} else {
			*c, ok = r.count()
		}
		if !ok {
			return false
		}
	}
	return true
}

func nameField(e *Name, key string) (*string, *Count, uint32) {
	switch key {
	case "fn":
		return &e.Family, nil, 1
	case "fnt":
		return &e.FamilyStandard, nil, 2
	case "gn":
		return &e.Given, nil, 4
	case "gnt":
		return &e.GivenStandard, nil, 8
	}
	return nil, nil, 0
}

func vaccinationField(e *Vaccination, key string) (*string, *Count, uint32) {
	switch key {
	case "tg":
		return &e.Target, nil, 1
	case "vp":
		return &e.Vaccine, nil, 2
	case "mp":
		return &e.Product, nil, 4
	case "ma":
		return &e.Manufacturer, nil, 8
	case "dn":
		return nil, &e.DoseNumber, 16
	case "sd":
		return nil, &e.TotalDoses, 32
	case "dt":
		return &e.Date, nil, 64
	case "co":
		return &e.Country, nil, 128
	case "is":
		return &e.Issuer, nil, 256
	case "ci":
		return &e.ID, nil, 512
	}
	return nil, nil, 0
}

func testField(e *Test, key string) (*string, *Count, uint32) {
	switch key {
	case "tg":
		return &e.Target, nil, 1
	case "tt":
		return &e.TestType, nil, 2
	case "nm":
		return &e.TestName, nil, 4
	case "ma":
		return &e.Device, nil, 8
	case "sc":
		return &e.SampledAt, nil, 16
	case "dr":
		return &e.ResultAt, nil, 32
	case "tr":
		return &e.Result, nil, 64
	case "tc":
		return &e.Centre, nil, 128
	case "co":
		return &e.Country, nil, 256
	case "is":
		return &e.Issuer, nil, 512
	case "ci":
		return &e.ID, nil, 1024
	}
	return nil, nil, 0
}

func recoveryField(e *Recovery, key string) (*string, *Count, uint32) {
	switch key {
	case "tg":
		return &e.Target, nil, 1
	case "fr":
		return &e.FirstPositive, nil, 2
	case "co":
		return &e.Country, nil, 4
	case "is":
		return &e.Issuer, nil, 8
	case "df":
		return &e.ValidFrom, nil, 16
	case "du":
		return &e.ValidUntil, nil, 32
	case "ci":
		return &e.ID, nil, 64
	}
	return nil, nil, 0
}

// fastClaims reads the CWT claims map when it holds only iss, exp, iat and
// the hcert claim, with integer keys, each once.
func fastClaims(payload []byte, c *rawClaims) bool {
	r := fastReader{b: payload}
	n, ok := r.container(majorMap)
	if !ok {
		return false
	}
	var seen uint8
	for range n {
		k, ok := r.intKey()
		if !ok {
			return false
		}
		v, ok := r.item(1)
		if !ok || v[0] == 0xF6 || v[0] == 0xF7 {
			return false // null and undefined: left to the decoder
		}
		var bit uint8
		switch k {
		case claimIss:
			bit, c.Iss = 1, v
		case claimExp:
			bit, c.Exp = 2, v
		case claimIat:
			bit, c.Iat = 4, v
		case claimHCert:
			bit, c.HCert = 8, new(hcertClaim)
			ok = c.HCert.UnmarshalCBOR(v) == nil
		}
		if bit == 0 || seen&bit != 0 || !ok {
			return false
		}
		seen |= bit
	}
	return r.done()
}

// fastEnvelope reads the four elements of a COSE_Sign1 array.
func fastEnvelope(body []byte, env *envelope) bool {
	r := fastReader{b: body}
	if n, ok := r.container(majorArray); !ok || n != 4 {
		return false
	}
	for _, dst := range []*rawItem{&env.Protected, &env.Unprotected, &env.Payload, &env.Signature} {
		v, ok := r.item(1)
		if !ok {
			return false
		}
		*dst = v
	}
	return r.done()
}

// fastHeader reads a header map holding at most alg and kid.
func fastHeader(data []byte, h *header) bool {
	r := fastReader{b: data}
	n, ok := r.container(majorMap)
	if !ok {
		return false
	}
	for range n {
		k, ok := r.intKey()
		if !ok {
			return false
		}
		v, ok := r.item(1)
		if !ok || v[0] == 0xF6 || v[0] == 0xF7 {
			return false // null and undefined: left to the decoder
		}
		switch {
		case k == 1 && h.Alg == nil:
			h.Alg = v
		case k == 4 && h.KID == nil:
			h.KID = v
		default:
			return false
		}
	}
	return r.done()
}
