package issuer

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// icaoLatin holds the ICAO 9303 (Part 3, §6) transliterations that are not
// simply the base letter; other accented Latin letters lose their accent.
var icaoLatin = map[rune]string{
	'Ä': "AE", 'Ö': "OE", 'Ü': "UE", 'ß': "SS", 'ẞ': "SS",
	'Å': "AA", 'Æ': "AE", 'Ø': "OE", 'Œ': "OE", 'Þ': "TH", 'Ð': "D", 'Đ': "D",
	'Ĳ': "IJ", 'Ł': "L", 'Ŀ': "L", 'Ħ': "H", 'Ŧ': "T", 'Ŋ': "N", 'ı': "I", 'ĸ': "K",
}

// icaoCyrillic is ICAO 9303 Part 3 Table B for the common Cyrillic letters.
var icaoCyrillic = map[rune]string{
	'А': "A", 'Б': "B", 'В': "V", 'Г': "G", 'Ґ': "G", 'Д': "D", 'Е': "E", 'Ё': "E", 'Є': "IE",
	'Ж': "ZH", 'З': "Z", 'И': "I", 'І': "I", 'Ї': "I", 'Й': "I", 'К': "K", 'Л': "L", 'М': "M",
	'Н': "N", 'О': "O", 'П': "P", 'Р': "R", 'С': "S", 'Т': "T", 'У': "U", 'Ў': "U", 'Ф': "F",
	'Х': "KH", 'Ц': "TS", 'Ч': "CH", 'Ш': "SH", 'Щ': "SHCH", 'Ъ': "IE", 'Ы': "Y", 'Ь': "",
	'Э': "E", 'Ю': "IU", 'Я': "IA", 'Ђ': "D", 'Ј': "J", 'Љ': "LJ", 'Њ': "NJ", 'Ћ': "C", 'Џ': "DZ",
}

// Transliterate writes a name the ICAO 9303 way, as the DCC's fnt and gnt
// fields want it: upper case A–Z, '<' between name parts (for spaces and
// hyphens), apostrophes and other marks dropped. "Musterfrau-Gößinger"
// becomes "MUSTERFRAU<GOESSINGER".
func Transliterate(name string) string {
	var b strings.Builder
	lastSep := true // no leading '<'
	for _, r := range norm.NFC.String(strings.TrimSpace(name)) {
		r = unicode.ToUpper(r)
		switch {
		case r >= 'A' && r <= 'Z':
			b.WriteRune(r)
			lastSep = false
		case r == ' ' || r == '-' || r == '‐' || r == '–' || unicode.IsSpace(r):
			if !lastSep {
				b.WriteByte('<')
				lastSep = true
			}
		default:
			s, ok := icaoLatin[r]
			if !ok {
				s, ok = icaoCyrillic[r]
			}
			if !ok {
				s = baseLetters(r)
			}
			if s != "" {
				b.WriteString(s)
				lastSep = false
			}
		}
	}
	return strings.TrimRight(b.String(), "<")
}

// baseLetters strips diacritics by canonical decomposition (É → E, Ç → C,
// Ñ → N); anything left that is not A–Z is dropped.
func baseLetters(r rune) string {
	var out strings.Builder
	for _, d := range norm.NFD.String(string(r)) {
		if d >= 'A' && d <= 'Z' {
			out.WriteRune(d)
		}
	}
	return out.String()
}
