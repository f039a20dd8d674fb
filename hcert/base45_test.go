package hcert

import (
	"bytes"
	"errors"
	"testing"
)

func TestBase45RoundTripRFCVectors(t *testing.T) {
	tests := []struct{ plain, encoded string }{
		{"AB", "BB8"},
		{"Hello!!", "%69 VD92EX0"},
		{"base-45", "UJCLQE7W581"},
		{"ietf!", "QED8WEX0"},
		{"", ""},
		{"\x00", "00"},
		{"\xff\xff", "FGW"},
	}
	for _, tt := range tests {
		if got := EncodeBase45([]byte(tt.plain)); got != tt.encoded {
			t.Errorf("EncodeBase45(%q) = %q, want %q", tt.plain, got, tt.encoded)
		}
		got, err := DecodeBase45(tt.encoded)
		if err != nil || !bytes.Equal(got, []byte(tt.plain)) {
			t.Errorf("DecodeBase45(%q) = %q, %v; want %q", tt.encoded, got, err, tt.plain)
		}
	}
}

func TestDecodeBase45RejectsInvalid(t *testing.T) {
	tests := []struct{ name, in string }{
		{"lower case", "bb8"},
		{"character outside alphabet", "BB#"},
		{"dangling single character", "BB8A"},
		{"three-char group over 65535", "GGW"},
		{"two-char group over 255", "::"},
		{"padding", "BB8="},
		{"non-ASCII", "BBé"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeBase45(tt.in)
			if !errors.Is(err, ErrBase45) {
				t.Fatalf("DecodeBase45(%q) error = %v, want ErrBase45", tt.in, err)
			}
		})
	}
}

func TestTrimPrefix(t *testing.T) {
	tests := []struct {
		in, want string
		err      error
	}{
		{"HC1:ABC", "ABC", nil},
		{"HC1:AB C\r\n", "AB C", nil}, // inner space kept, scanner newline dropped
		{"HC2:ABC", "", ErrUnsupportedPrefix},
		{"HL0:ABC", "", ErrUnsupportedPrefix},
		{"LT1:ABC", "", ErrUnsupportedPrefix},
		{"hc1:ABC", "", ErrNoPrefix},
		{"NCFOXN", "", ErrNoPrefix},
		{"", "", ErrNoPrefix},
		{"HC1:" + string(make([]byte, MaxTextLen)), "", ErrTooLong},
	}
	for _, tt := range tests {
		got, err := TrimPrefix(tt.in)
		if !errors.Is(err, tt.err) || got != tt.want {
			t.Errorf("TrimPrefix(%.12q) = %q, %v; want %q, %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}
