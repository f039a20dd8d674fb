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

// zlibReaders recycles decompressors: a fresh one allocates ~40 KiB of tables,
// more than the rest of a verification together. klauspost/compress inflates
// a DCC in about 60 % of the time compress/zlib takes; FuzzDecompress checks
// that both read every stream alike.
var zlibReaders sync.Pool

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
	if max <= 0 {
		max = MaxInflated
	}
	if len(data) < 2 || data[0]&0x0F != 8 || (int(data[0])<<8|int(data[1]))%31 != 0 {
		return nil, fmt.Errorf("%w: missing RFC 1950 header", ErrNotCompressed)
	}
	src := bytes.NewReader(data)
	var zr io.ReadCloser
	if r, ok := zlibReaders.Get().(io.ReadCloser); ok {
		if err := r.(zlib.Resetter).Reset(src, nil); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrCompression, err)
		}
		zr = r
	} else {
		r, err := zlib.NewReader(src)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrCompression, err)
		}
		zr = r
	}
	defer zlibReaders.Put(zr)

	// Reading through a limit of max+1 bytes tells "exactly max" from "more".
	limited := io.LimitedReader{R: zr, N: int64(max) + 1}
	out := make([]byte, 0, min(max+1, 4*len(data)+512))
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
	if src.Len() != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the end of the stream", ErrCompression, src.Len())
	}
	return out, nil
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
