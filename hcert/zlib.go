package hcert

import (
	"bytes"

	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/zlib"
)

// MaxInflated caps the decompressed size of a DCC. A real one is under 4 KiB;
// the cap turns a zlib bomb into an error after at most this much work.
const MaxInflated = 64 << 10

// inflaters recycles decompressors with their input reader and output
// scratch: a fresh decompressor allocates ~40 KiB of tables, more than the
// rest of a verification together, and inflating into a kept buffer then
// copying out the exact size allocates a few hundred bytes instead of a
// zeroed guess of several KiB. klauspost/compress inflates a DCC in about
// 60 % of the time compress/zlib takes; FuzzDecompress checks that both
// read every stream alike.
var inflaters = sync.Pool{New: func() any { return new(inflater) }}

type inflater struct {
	src bytes.Reader
	zr  io.ReadCloser // made on first use
	out []byte        // scratch, at most MaxInflated+1 kept
	in  []byte        // InflateBase45's scratch, at most MaxTextLen kept
}

// zlibWriters recycles compressors: a fresh one allocates about 1 MiB of
// state, which made compression the largest cost of issuing (allocation
// and clearing, then GC) before the writers were reused.
var zlibWriters = sync.Pool{New: func() any {
	w, _ := zlib.NewWriterLevel(nil, zlib.DefaultCompression) // level is valid
	return w
}}

// Compress zlib-compresses data at the default level (6). Over the 124
// EU test vectors the best level (9) saved 0.4 % (1.6 bytes a
// certificate, too little to change a QR version in practice) at twenty
// times the CPU (25 µs against 1.3 µs), which under an issuing rush is
// better spent on signatures.
func Compress(data []byte) []byte {
	var buf bytes.Buffer
	w := zlibWriters.Get().(*zlib.Writer)
	w.Reset(&buf)
	_, _ = w.Write(data) // bytes.Buffer writes do not fail
	_ = w.Close()
	w.Reset(nil) // drop the reference to buf
	zlibWriters.Put(w)
	return buf.Bytes()
}

// Decompress inflates an RFC 1950 zlib stream of at most max bytes output
// (MaxInflated when max <= 0). The Adler-32 checksum is verified and trailing
// bytes after the stream are refused.
func Decompress(data []byte, max int) ([]byte, error) {
	f := inflaters.Get().(*inflater)
	defer inflaters.Put(f)
	return f.inflate(data, max)
}

func (f *inflater) inflate(data []byte, max int) ([]byte, error) {
	if max <= 0 {
		max = MaxInflated
	}
	if len(data) < 2 || data[0]&0x0F != 8 || (int(data[0])<<8|int(data[1]))%31 != 0 {
		return nil, fmt.Errorf("%w: missing RFC 1950 header", ErrNotCompressed)
	}
	f.src.Reset(data)
	defer f.src.Reset(nil) // keep no reference to the caller's bytes
	if f.zr == nil {
		r, err := zlib.NewReader(&f.src)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrCompression, err)
		}
		f.zr = r
	} else if err := f.zr.(zlib.Resetter).Reset(&f.src, nil); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCompression, err)
	}

	// Reading through a limit of max+1 bytes tells "exactly max" from "more".
	limited := io.LimitedReader{R: f.zr, N: int64(max) + 1}
	out := f.out[:0]
	if cap(out) == 0 {
		out = make([]byte, 0, min(max+1, 4<<10))
	}
	defer func() {
		if cap(out) <= MaxInflated+1 {
			f.out = out[:0]
		}
	}()
	for {
		if len(out) == cap(out) {
			out = append(out, 0)[:len(out)]
		}
		n, err := limited.Read(out[len(out):cap(out)])
		out = out[:len(out)+n]
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrCompression, corruptReason(err))
		}
	}
	if len(out) > max {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrInflatedTooLarge, max)
	}
	if f.src.Len() != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the end of the stream", ErrCompression, f.src.Len())
	}
	return bytes.Clone(out), nil
}

func corruptReason(err error) error {
	var ce flate.CorruptInputError
	if errors.As(err, &ce) {
		return fmt.Errorf("deflate data corrupt at offset %d", int64(ce))
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("stream truncated")
	}
	return err
}
