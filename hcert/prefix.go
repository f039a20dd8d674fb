package hcert

import (
	"fmt"
	"strings"
)

// Prefix is the context identifier of the only DCC version in use (HCERT §4.2.2).
const Prefix = "HC1:"

// MaxTextLen is the largest alphanumeric content a QR code (version 40, ECC
// level L) can hold; anything longer cannot come from a real DCC and is
// refused before any decoding work.
const MaxTextLen = 4296

// TrimPrefix removes the "HC1:" context identifier and returns the Base45
// text. Trailing CR/LF (added by many scanners) is ignored; inner spaces are
// kept because space is a Base45 character.
func TrimPrefix(text string) (string, error) {
	text = strings.TrimRight(text, "\r\n")
	if len(text) > MaxTextLen {
		return "", fmt.Errorf("%w: %d characters, a QR code holds at most %d", ErrTooLong, len(text), MaxTextLen)
	}
	if rest, ok := strings.CutPrefix(text, Prefix); ok {
		return rest, nil
	}
	if isContextID(text) {
		return "", fmt.Errorf("%w %q (only %s is defined)", ErrUnsupportedPrefix, text[:4], Prefix)
	}
	return "", fmt.Errorf("%w: text does not start with %s", ErrNoPrefix, Prefix)
}

// isContextID reports whether text starts like a context identifier: two
// upper-case letters, a digit or letter, and a colon (HC2:, HL0:, LT1:).
func isContextID(text string) bool {
	if len(text) < 4 || text[3] != ':' {
		return false
	}
	for i := range 3 {
		c := text[i]
		if !(c >= 'A' && c <= 'Z' || i == 2 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
