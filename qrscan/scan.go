package qrscan

import (
	"cmp"
	"context"
	"fmt"
	"image"
	"iter"
	"slices"
	"sort"
	"time"

	"github.com/makiuchi-d/gozxing"
	multidetector "github.com/makiuchi-d/gozxing/multi/qrcode/detector"
)

// QR reading budget and working size. A phone photo is downscaled so that its
// long side is at most maxWorkingSide before any pass: QR codes a person can
// read at arm's length survive that, and every pass gets cheaper.
const (
	DefaultBudget      = 2 * time.Second
	DefaultFrameBudget = 100 * time.Millisecond
	maxWorkingSide     = 1600
)

// qrPass is one way of finding the code: a filter applied before detection
// (scale is its size relative to the working image) and whether the image is
// inverted. Modules are always read from the unfiltered working image.
type qrPass struct {
	name   string
	scale  float64
	invert bool
	filter func(*filters) *gray
	// locate finds the grids (locateAll, gozxing's finder-pattern search
	// under both binarizers, when nil), asking stop whether time is up.
	locate func(g *gray, stop func() bool) []*located
	// softAfter reads the best grid kept so far softly once the pass is
	// done, before the passes after it.
	softAfter bool
}

// filters computes each filtered image once per scan: several passes share
// the sharpened or upscaled image.
type filters struct {
	base  *gray
	cache map[string]*gray
}

func (f *filters) get(name string, make func() *gray) *gray {
	if g, ok := f.cache[name]; ok {
		return g
	}
	g := make()
	f.cache[name] = g
	return g
}

func (f *filters) sharpened() *gray {
	return f.get("sharpen", func() *gray { return f.base.sharpen(2, 3) })
}

// upscaled is the base image scaled up by factor, made once: the ×2 image
// serves the upscale×2 pass and the restorations' search.
func (f *filters) upscaled(factor float64) *gray {
	return f.get(fmt.Sprint("×", factor), func() *gray { return f.base.scale(factor) })
}

// qrPasses are ordered by cost and by how many images of the photo corpus
// each rescues (TestPhotoCorpus logs which pass read each image): plain
// first, then the filters for blurred, small and tilted codes
// (sharpen+upscale×2 sharpens on a quarter of the pixels, before
// upscaling). A pass that no longer reads any image first goes:
// sharpen+upscale×3 and a denoising blur read none of the 988 (as photos or
// frames) once the correlation pass came, and cost every missed image their
// time; upscale×3, sharpen+upscale×2 and upscale×3+sharpen none once the
// grids' poor-fit search and the early soft reading came (nor any of two
// corpora of 1,520 fresh mixed codes, bench-qr.sh --fresh-mix 80).
//
// The inverted pass comes last: readAll already reads inverted codes whole
// (51 of the invert class's 52), and the one left for the pass is read by
// it wherever it stands, while the blurred and small codes the filters read
// no longer pay it first. On the photo corpus and both mixed corpora the
// same images read by the same passes; BenchmarkScanPhotos (10 alternating
// rounds) photo −3.6 %, blur2 −4.8 %.
//
// The correlation pass comes after upscale×2, with a soft reading of the
// best grid at once: the photo class's codes it locates are read softly, and
// they had run every pass first. On the photo corpus the same images are
// read, 12 photos of them softly as before; search time
// (BenchmarkScanPhotos, 5 alternating rounds) photo −23 %, the other classes
// unchanged. Before the grids' poor-fit search (decodeGrid) it made blur2
// 25 % dearer.
var qrPasses = []qrPass{
	{"plain", 1, false, nil, nil, false},
	{"sharpen", 1, false, (*filters).sharpened, nil, false},
	{"upscale×2", 2, false, func(f *filters) *gray { return f.upscaled(2) }, nil, false},
	// Finder patterns too small and blurred for any binarization to keep
	// their 1:1:3:1:1 runs are still found by correlation in the gray image.
	{"finder correlation", 1, false, nil, func(g *gray, stop func() bool) []*located {
		return locateByTemplate(g, minFinderScore, stop)
	}, true},
	{"upscale×1.5", 1.5, false, func(f *filters) *gray { return f.base.scale(1.5) }, nil, false},
	{"inverted", 1, true, nil, nil, false},
}

var tryHarder = map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_TRY_HARDER: true}

// decodeAll reads every QR code in a black matrix as gozxing's
// QRCodeMultiReader.DecodeMultiple (trying harder) reads them, texts only:
// each code its multi detector finds, decoded by decodeHard (gozxing's
// decoder with this package's Reed–Solomon decoder: gozxing's was a fifth
// of the first reading's CPU), and the parts of a structured append
// joined last in their sequence, sorted as gozxing sorts them
// (TestDecodeAllMatchesGozxing). Like gozxing's, it fails when the
// detector finds no code, and reads none without failing when it finds
// codes it cannot decode.
func decodeAll(bits *gozxing.BitMatrix) ([]string, error) {
	found, err := multidetector.NewMultiDetector(bits).DetectMulti(tryHarder)
	if err != nil {
		return nil, err
	}
	type part struct {
		text string
		seq  int
	}
	var texts []string
	var parts []part
	for _, d := range found {
		res, ok := decodeHardResult(d.GetBits())
		switch {
		case !ok:
		case res.HasStructuredAppend():
			parts = append(parts, part{res.GetText(), res.GetStructuredAppendSequenceNumber()})
		default:
			texts = append(texts, res.GetText())
		}
	}
	if len(parts) > 0 {
		sort.Slice(parts, func(a, b int) bool { return parts[a].seq < parts[b].seq })
		joined := ""
		for _, p := range parts {
			joined += p.text
		}
		texts = append(texts, joined)
	}
	return texts, nil
}

// Mode says how hard Scan looks.
type Mode int

const (
	// Photo tries every pass until the budget is spent: a photo is all
	// the verifier gets.
	Photo Mode = iota
	// Frame reads the frame as it is, not inverted, and goes on to the
	// filters only when the first pass located a code it could not read
	// (and read no other code): a live camera sends the next frame in a
	// moment and most of its frames show no code, or another one, so such
	// a frame must not cost what a hard photo may.
	Frame
)

// Options are how a scan looks and for what.
type Options struct {
	Mode Mode
	// Budget bounds the search (DefaultBudget, or DefaultFrameBudget for
	// a Frame, when zero). The first pass always runs.
	Budget time.Duration
	// Accept says whether a code is the one the caller wants (a DCC, not
	// a menu link in the same picture); nil accepts any code, and leaves
	// out the soft reading, whose text only a check like a DCC's (Base45,
	// zlib's checksum, COSE) tells from a miscorrection.
	Accept func(text string) bool
}

// TimeBudget is the search's budget: Budget, or the mode's default when
// zero.
func (o Options) TimeBudget() time.Duration {
	switch {
	case o.Budget > 0:
		return o.Budget
	case o.Mode == Frame:
		return DefaultFrameBudget
	}
	return DefaultBudget
}

// Found is a scan's answer: the text, and the pass that read it (for the
// corpus statistics).
type Found struct {
	Text, Pass string
}

// Scan finds the code the caller accepts in an image. The first pass reads
// every QR code in the picture (two accepted codes are ErrMultiple, an
// accepted code beats any other); later passes look for one code under
// progressively more expensive filters until an accepted one is found or
// the budget is spent. A code not accepted is returned only when no
// accepted one was found, so that the caller can say what the picture
// holds.
func Scan(ctx context.Context, img image.Image, opts Options) (Found, error) {
	mode, accept := opts.Mode, opts.Accept
	if accept == nil {
		accept = func(string) bool { return true }
	}
	deadline := time.Now().Add(opts.TimeBudget())
	g := toGray(img)
	if f := workingScale(g.w, g.h); f < 1 {
		g = g.scale(f)
	}

	other := ""
	texts, plainBits, err := readAll(g, mode == Photo, accept)
	if err != nil {
		return Found{}, err
	}
	for _, t := range texts {
		if accept(t) {
			return Found{t, "all codes"}, nil
		}
		other = t
	}
	if mode == Frame && other != "" {
		return Found{other, "all codes"}, nil // another code in view: the next frame may show the one wanted
	}

	plain := &filters{base: g, cache: map[string]*gray{}}
	var inverted *filters
	stop := func() bool { return ctx.Err() != nil || time.Now().After(deadline) }
	grids := 0 // grids the passes so far found but could not read as a DCC
	var soft []softCandidate
	tried := triedGrids{}
	for i, p := range qrPasses {
		if err := ctx.Err(); err != nil {
			return Found{}, err
		}
		if time.Now().After(deadline) {
			break
		}
		if mode == Frame && i > 0 && grids == 0 {
			break // nothing code-like: the next frame
		}
		f := plain
		if p.invert {
			if inverted == nil {
				inverted = &filters{base: g.invert(), cache: map[string]*gray{}}
			}
			f = inverted
		}
		base, detectOn := f.base, f.base
		if p.filter != nil {
			detectOn = p.filter(f)
		}
		for _, hybrid := range []bool{true, false} {
			if !hybrid && (p.filter != nil || p.locate != nil) {
				break // the global-histogram binarizer only pays off unfiltered
			}
			var locs iter.Seq[*located]
			switch {
			case p.locate != nil:
				locs = slices.Values(p.locate(detectOn, stop))
			case hybrid && detectOn == g && plainBits != nil:
				locs = locateIn(plainBits) // readAll's binarization
			default:
				locs = locateAll(detectOn, hybrid)
			}
			for loc := range locs {
				grids++
				if stop() {
					break // each grid costs a fit and decodes: stop on time
				}
				if p.scale != 1 {
					loc = loc.scaled(p.scale)
				}
				if !tried.first(base, loc) {
					continue // the same modules from the same image: the same result
				}
				if t, ok := decodeGrid(base, loc, accept, &soft); ok {
					return Found{t, p.name}, nil
				}
				if len(soft) > maxSoftCandidates {
					bestFirst(soft)
					soft = soft[:maxSoftCandidates]
				}
			}
		}
		if p.softAfter && opts.Accept != nil && len(soft) > 0 && !stop() {
			bestFirst(soft)
			if !soft[0].softRead {
				soft[0].softRead = true
				if t, ok := decodeSoft(soft[0].vals, soft[0].dim, accept); ok {
					return Found{t, "soft reading"}, nil
				}
			}
		}
	}
	// Last, the soft reading of the best grids no hard reading decoded: it
	// costs more than a hard one, and a later pass often reads the code. It
	// spends every check codeword, so it cannot tell a miscorrection
	// itself: it runs only for a caller whose Accept checks the text.
	if opts.Accept == nil {
		soft = nil
	}
	bestFirst(soft)
	for _, c := range soft {
		if stop() {
			break
		}
		if c.softRead {
			continue // read softly after its pass
		}
		if t, ok := decodeSoft(c.vals, c.dim, accept); ok {
			return Found{t, "soft reading"}, nil
		}
	}
	// Last of all, the restorations: deblurring (deblur.go) and
	// super-resolution (resolve.go), the costliest readings, for codes
	// blurred or shrunk past what the passes' filters undo. Like the soft
	// reading they need a caller's Accept to tell a miscorrection. A live
	// frame gets them only when a pass located a code.
	if opts.Accept != nil && (mode == Photo || grids > 0) && !stop() {
		if t, pass, ok := readRestored(plain, soft, tried, accept, mode == Photo, stop); ok {
			return Found{t, pass}, nil
		}
	}
	if other != "" {
		return Found{other, "all codes"}, nil
	}
	return Found{}, ErrNotFound
}

// maxRestoredGrids bounds how many grids a scan restores (the
// best-scoring ones): each costs a transform and up to len(deblurWidths)
// decodes, or a least-squares solution.
const maxRestoredGrids = 4

// maxRefitGrids bounds how many of them are refitted (refitDeblurGrid)
// when none is restored as located: a refit restores 120–150 grids.
const maxRefitGrids = 2

// readRestored is the scan's last reading: the best grids the passes kept
// for the soft reading are restored, super-resolved when their modules are
// about a pixel or smaller and deblurred otherwise. When the passes kept no
// grid, two searches look for finder patterns they missed, each followed by
// the restoration of what it found: blurred ones by correlation in the
// sharpened image at a lower threshold (blurredFinderScore), and those of
// codes under a pixel per module, which the correlation's smallest template
// (1 px modules) misses, in the image upscaled ×2. Their grids are read
// hard first, as the passes do. It returns the text and the reading's name.
//
// The searches run only when the passes kept nothing: a code the passes
// located is restored from their grid, and on a missed photo the searches
// cost about a tenth of its time (the photo corpus's photo class, −10 %; no
// image read changed).
func readRestored(plain *filters, soft []softCandidate, tried triedGrids, accept func(string) bool, refit bool, stop func() bool) (string, string, bool) {
	if len(soft) > 0 {
		return restoreGrids(soft, accept, refit, stop)
	}
	for _, search := range []struct {
		name  string
		scale float64
		image func() *gray
		min   float64
	}{
		{"sharpen+finder correlation", 1, plain.sharpened, blurredFinderScore},
		{"upscale×2+finder correlation", 2, func() *gray { return plain.upscaled(2) }, minFinderScore},
	} {
		var found []softCandidate
		for _, loc := range locateByTemplate(search.image(), search.min, stop) {
			if stop() {
				return "", "", false
			}
			if search.scale != 1 {
				loc = loc.scaled(search.scale)
			}
			if !tried.first(plain.base, loc) {
				continue
			}
			if t, ok := decodeGrid(plain.base, loc, accept, &found); ok {
				return t, search.name, true
			}
		}
		if t, pass, ok := restoreGrids(found, accept, refit, stop); ok {
			return t, pass, true
		}
	}
	return "", "", false
}

// restoreGrids restores the best of grids (at most maxRestoredGrids), best
// first, until one decodes; with refit, the best of them are then refitted
// and restored again.
func restoreGrids(grids []softCandidate, accept func(string) bool, refit bool, stop func() bool) (string, string, bool) {
	bestFirst(grids)
	for i, c := range grids {
		if i == maxRestoredGrids || stop() {
			break
		}
		if moduleSize(c.tr, c.dim) <= resolveMaxModule {
			if t, ok := decodeSuperResolved(c.g, c.tr, c.dim, accept, stop); ok {
				return t, "super-resolved", true
			}
			continue
		}
		if t, ok := decodeDeblurred(c.g, c.tr, c.dim, accept, stop); ok {
			return t, "deblurred", true
		}
	}
	// Then the best grids refitted by their restored patterns (refit.go):
	// a blurred code's grid is often a pixel or a version off. Not for a
	// live frame: a refit takes 0.1–0.2 s, a frame's whole budget, which
	// every frame with an unread code in view would spend.
	for i, c := range grids {
		if !refit || i == maxRefitGrids || stop() {
			break
		}
		if moduleSize(c.tr, c.dim) <= resolveMaxModule {
			continue
		}
		if tr, dim, ok := refitDeblurGrid(c.g, c.tr, c.dim, stop); ok {
			if t, ok := decodeDeblurred(c.g, tr, dim, accept, stop); ok {
				return t, "deblurred, refitted", true
			}
		}
	}
	return "", "", false
}

// triedGrids are the grids decoded so far, per image their modules are read
// from (the working image, or its negative for the inverted pass).
type triedGrids map[*gray][]*located

// first reports whether loc is new for base (no grid tried on base is the
// same), and records it.
func (t triedGrids) first(base *gray, loc *located) bool {
	if slices.ContainsFunc(t[base], loc.same) {
		return false
	}
	t[base] = append(t[base], loc)
	return true
}

// bestFirst orders grids kept for soft reading by their pattern score,
// best first.
func bestFirst(soft []softCandidate) {
	slices.SortStableFunc(soft, func(a, b softCandidate) int { return cmp.Compare(b.score, a.score) })
}

// readAll decodes every QR code in g as it is (decodeAll), and in g
// inverted when none is read there and inverted is set, or when nothing
// code-like is located there at all. More than one distinct accepted code
// is ErrMultiple. It also returns g's hybrid binarization, which the first
// pass locates codes in again (decodeAll leaves it as it was:
// TestReadAllKeepsItsBinarization).
func readAll(g *gray, inverted bool, accept func(string) bool) ([]string, *gozxing.BitMatrix, error) {
	src, err := gozxing.NewPlanarYUVLuminanceSource(g.pix, g.w, g.h, 0, 0, g.w, g.h, false)
	if err != nil {
		return nil, nil, nil
	}
	var texts []string
	var bits *gozxing.BitMatrix
	dccs := map[string]bool{}
	bin := newHybridBinarizer(src)
	for i := range 2 {
		if i == 1 {
			bin = bin.negative() // from the pixels and block statistics already read
		}
		m, err := bin.GetBlackMatrix()
		if i == 0 {
			bits = m
		}
		if err != nil {
			continue
		}
		// Nothing located goes on to the negative even when inverted is
		// not set, as gozxing's reader had it: a live frame's dark-mode
		// code is read at once.
		found, err := decodeAll(m)
		if err != nil {
			continue
		}
		for _, t := range found {
			texts = append(texts, t)
			if accept(t) {
				dccs[t] = true
			}
		}
		if len(texts) > 0 || !inverted {
			break
		}
	}
	if len(dccs) > 1 {
		return nil, nil, fmt.Errorf("%w: %d of them; show one at a time", ErrMultiple, len(dccs))
	}
	return texts, bits, nil
}
