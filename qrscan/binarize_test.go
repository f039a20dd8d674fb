package qrscan

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/makiuchi-d/gozxing"

	"github.com/greenpass-dcc/greenpass/internal/testdata"
)

// hybridBinarizer makes gozxing's black matrix, bit for bit: sizes on and
// off the 8-pixel blocks (the last block row and column are moved inside
// the image and overlap), flat and contrasted blocks, dark and light
// backgrounds, and images under 40 pixels, which go to gozxing.
func TestHybridBinarizerMatchesGozxing(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	fills := map[string]func(x, y int) byte{
		"noise": func(x, y int) byte { return byte(rng.IntN(256)) },
		"flat":  func(x, y int) byte { return byte(100 + rng.IntN(20)) },
		"dark patch": func(x, y int) byte {
			return byte(map[bool]int{true: 10, false: 230}[x > 20 && x < 60 && y > 15 && y < 50] + rng.IntN(8))
		},
		"gradient": func(x, y int) byte { return byte((3*x + 2*y) % 256) },
		"modules":  func(x, y int) byte { return byte(map[bool]int{true: 40, false: 200}[(x/3+y/3)%2 == 0] + rng.IntN(30)) },
		"black":    func(x, y int) byte { return 0 },
	}
	for name, fill := range fills {
		for _, size := range [][2]int{{40, 40}, {41, 57}, {64, 48}, {97, 131}, {250, 203}, {39, 80}, {12, 12}} {
			w, h := size[0], size[1]
			g := &gray{pix: make([]byte, w*h), w: w, h: h}
			for y := range h {
				for x := range w {
					g.pix[y*w+x] = fill(x, y)
				}
			}
			src, err := gozxing.NewPlanarYUVLuminanceSource(g.pix, w, h, 0, 0, w, h, false)
			if err != nil {
				t.Fatal(err)
			}
			// The negative from the positive's statistics, made after the
			// positive's matrix and before it.
			after := newHybridBinarizer(src)
			after.GetBlackMatrix()
			for _, c := range []struct {
				what string
				s    gozxing.LuminanceSource
				bin  gozxing.Binarizer
			}{
				{"positive", src, newHybridBinarizer(src)},
				{"inverted source", src.Invert(), newHybridBinarizer(src.Invert())},
				{"negative, after", src.Invert(), after.negative()},
				{"negative, first", src.Invert(), newHybridBinarizer(src).negative()},
			} {
				want, err1 := gozxing.NewHybridBinarizer(c.s).GetBlackMatrix()
				got, err2 := c.bin.GetBlackMatrix()
				if (err1 == nil) != (err2 == nil) {
					t.Fatalf("%s %dx%d, %s: errors %v and %v", name, w, h, c.what, err1, err2)
				}
				if err1 != nil {
					continue
				}
				for y := range h {
					for x := range w {
						if got.Get(x, y) != want.Get(x, y) {
							t.Fatalf("%s %dx%d, %s: pixel (%d,%d) is %v, gozxing says %v", name, w, h, c.what, x, y, got.Get(x, y), want.Get(x, y))
						}
					}
				}
			}
		}
	}
}

// FuzzHybridBinarizer: for any pixels, the same black matrices as
// gozxing's, of the image and of its negative.
func FuzzHybridBinarizer(f *testing.F) {
	f.Add(uint8(0), uint8(0), []byte{0, 255, 30, 200})
	f.Add(uint8(57), uint8(9), []byte("a QR code's pixels"))
	f.Fuzz(func(t *testing.T, dw, dh uint8, data []byte) {
		w, h := 36+int(dw)%100, 36+int(dh)%100
		if len(data) == 0 {
			return
		}
		pix := make([]byte, w*h)
		for i := range pix {
			pix[i] = data[i%len(data)] + byte(i/len(data))
		}
		src, err := gozxing.NewPlanarYUVLuminanceSource(pix, w, h, 0, 0, w, h, false)
		if err != nil {
			t.Fatal(err)
		}
		pos := newHybridBinarizer(src)
		for _, c := range []struct {
			s   gozxing.LuminanceSource
			bin gozxing.Binarizer
		}{{src, pos}, {src.Invert(), pos.negative()}} {
			want, err1 := gozxing.NewHybridBinarizer(c.s).GetBlackMatrix()
			got, err2 := c.bin.GetBlackMatrix()
			if (err1 == nil) != (err2 == nil) {
				t.Fatalf("%dx%d: errors %v and %v", w, h, err1, err2)
			}
			if err1 == nil && got.String() != want.String() {
				t.Fatalf("%dx%d: black matrices differ", w, h)
			}
		}
	})
}

// BenchmarkHybridBinarizer binarizes a photo corpus image of each size:
// readAll binarizes every image once or twice, and each pass its filtered
// image.
func BenchmarkHybridBinarizer(b *testing.B) {
	for _, class := range []string{"busy", "blur2"} {
		data, err := os.ReadFile(filepath.Join(testdata.Dir(b, "photos"), class, "AT_png_1.png"))
		if err != nil {
			b.Fatal(err)
		}
		img, err := Decode(data)
		if err != nil {
			b.Fatal(err)
		}
		g := toGray(img)
		src, err := gozxing.NewPlanarYUVLuminanceSource(g.pix, g.w, g.h, 0, 0, g.w, g.h, false)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(class, func(b *testing.B) {
			for b.Loop() {
				if _, err := newHybridBinarizer(src).GetBlackMatrix(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
