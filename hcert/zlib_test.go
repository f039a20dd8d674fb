package hcert

import (
	"bytes"
	"compress/zlib"
	"errors"
	"runtime"
	"testing"
)

func TestDecompress(t *testing.T) {
	plain := bytes.Repeat([]byte("greenpass "), 100)
	good := Compress(plain)
	badSum := bytes.Clone(good)
	badSum[len(badSum)-1] ^= 0xFF
	tests := []struct {
		name string
		in   []byte
		max  int
		err  error
	}{
		{"round trip", good, 0, nil},
		{"exactly at the cap", good, len(plain), nil},
		{"one byte over the cap", good, len(plain) - 1, ErrInflatedTooLarge},
		{"no zlib header (raw COSE)", []byte{0xD2, 0x84, 0x43}, 0, ErrNotCompressed},
		{"empty", nil, 0, ErrNotCompressed},
		{"truncated", good[:len(good)/2], 0, ErrCompression},
		{"bad Adler-32", badSum, 0, ErrCompression},
		{"trailing bytes", append(bytes.Clone(good), 0x00), 0, ErrCompression},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decompress(tt.in, tt.max)
			if !errors.Is(err, tt.err) {
				t.Fatalf("error = %v, want %v", err, tt.err)
			}
			if err == nil && !bytes.Equal(got, plain) {
				t.Fatalf("inflated %d bytes, want the %d-byte original", len(got), len(plain))
			}
		})
	}
}

// A 100 MiB zlib bomb must fail with a clear error having allocated about the
// cap, not the bomb.
func TestDecompressBomb(t *testing.T) {
	var buf bytes.Buffer
	w, _ := zlib.NewWriterLevel(&buf, zlib.BestCompression)
	zeros := make([]byte, 1<<20)
	for range 100 {
		w.Write(zeros)
	}
	w.Close()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := Decompress(buf.Bytes(), 0)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrInflatedTooLarge) {
		t.Fatalf("error = %v, want ErrInflatedTooLarge", err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 4*MaxInflated+1<<20 {
		t.Errorf("a 100 MiB bomb allocated %d bytes; the cap is %d", n, MaxInflated)
	}
}
