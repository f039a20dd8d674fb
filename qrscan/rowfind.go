package qrscan

import (
	"math/bits"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode/detector"
)

// findPatterns is f.Find(tryHarder) (gozxing's search for three finder
// patterns in f's image, trying harder), with the same result and the
// same candidates left in f (TestFindPatternsMatchesGozxing,
// FuzzFindPatterns). gozxing's scans every third row a pixel at a time,
// through BitMatrix.Get (a call with four bounds checks a pixel) and a
// state machine, and tests the runs' ratios in floats wherever a run may
// end a pattern: a tenth of a hard photo's scan. Here each row is copied
// out of the matrix once and walked a run at a time, a run's end found
// by counting trailing bits in its words, and the ratios are tested in
// integers (crossRatios). The checks across a candidate and the choice
// among candidates are gozxing's own (HandlePossibleCenter,
// SelectBestPatterns). BenchmarkFindPatterns, 6 rounds: −63 %.
func findPatterns(f *detector.FinderPatternFinder) (*detector.FinderPatternInfo, error) {
	m := f.GetImage()
	maxI, maxJ := m.GetHeight(), m.GetWidth()
	iSkip := detector.FinderPatternFinder_MIN_SKIP // trying harder
	// hasSkipped is f's own flag, which FindRowSkip sets once two
	// centres are confirmed: it cannot be read, so it is followed here.
	hasSkipped := false
	done := false
	stateCount := make([]int, 5)
	var row *gozxing.BitArray
	for i := iSkip - 1; i < maxI && !done; i += iSkip {
		clear(stateCount)
		currentState := 0
		row = m.GetRow(i, row)
		words := row.GetBitArray()
	runs:
		for j := 0; j < maxJ; {
			// A run of one colour from j: its pixels go as gozxing's go
			// one at a time, all to the state its first takes.
			black := words[j>>5]>>(j&31)&1 != 0
			end := nextChange(words, j, maxJ, black)
			n := end - j
			switch {
			case black:
				if currentState&1 == 1 {
					currentState++
				}
				stateCount[currentState] += n
			case currentState&1 == 1: // more of a white run
				stateCount[currentState] += n
			case currentState != 4: // white after a black run
				currentState++
				stateCount[currentState] += n
			case !crossRatios(stateCount) || !f.HandlePossibleCenter(stateCount, i, j):
				// White after the fifth run, and no pattern ends at j
				// (the runs are not 1:1:3:1:1, or gozxing's checks across
				// the candidate fail): the last three runs are the first
				// three of the next try, j the first pixel of its fourth.
				detector.FinderPatternFinder_ShiftCounts2(stateCount)
				currentState = 3
				stateCount[3] += n - 1
			default: // a pattern ends at j, confirmed
				iSkip = 2
				if hasSkipped {
					done = f.HaveMultiplyConfirmedCenters()
				} else {
					rowSkip := f.FindRowSkip()
					hasSkipped = twoConfirmed(f)
					if rowSkip > stateCount[2] {
						// The other pattern is rows away: skip there; the
						// row ends.
						i += rowSkip - stateCount[2] - iSkip
						clear(stateCount)
						break runs
					}
				}
				clear(stateCount)
				currentState = 0
				if n > 1 { // the rest of the white run, as after a row's start
					currentState = 1
					stateCount[1] = n - 1
				}
			}
			j = end
		}
		if crossRatios(stateCount) && f.HandlePossibleCenter(stateCount, i, maxJ) {
			iSkip = stateCount[0]
			if hasSkipped {
				done = f.HaveMultiplyConfirmedCenters()
			}
		}
	}
	fps, err := f.SelectBestPatterns()
	if err != nil {
		return nil, err
	}
	bl, tl, tr := gozxing.ResultPoint_OrderBestPatterns(fps[0], fps[1], fps[2])
	return detector.NewFinderPatternInfo(bl.(*detector.FinderPattern), tl.(*detector.FinderPattern), tr.(*detector.FinderPattern)), nil
}

// crossRatios is gozxing's FinderPatternFinder_foundPatternCross in
// integers (TestCrossRatiosMatchGozxing): whether five runs are in the
// ratios 1:1:3:1:1, each within half a module of its share of the seven
// (the centre within one and a half). gozxing's divides the total by 7 in
// floats for every run that may end a pattern, and took half the search.
// Multiplied by 14 its conditions are |14c − 2t| < t and, for the
// centre, |14c − 6t| < 3t; where the floats are inexact (t not a multiple
// of 7) no run's distance from its bound is under 1/14, so they decide
// alike.
func crossRatios(c []int) bool {
	c = c[:5]
	t := c[0] + c[1] + c[2] + c[3] + c[4]
	if c[0] == 0 || c[1] == 0 || c[2] == 0 || c[3] == 0 || c[4] == 0 || t < 7 {
		return false
	}
	return abs(14*c[0]-2*t) < t && abs(14*c[1]-2*t) < t && abs(14*c[2]-6*t) < 3*t &&
		abs(14*c[3]-2*t) < t && abs(14*c[4]-2*t) < t
}

// nextChange is the first pixel from j on, before maxJ, of the other
// colour than black says, in a row of 32-bit words (pixel j is bit j%32
// of word j/32); maxJ when there is none.
func nextChange(words []uint32, j, maxJ int, black bool) int {
	for j < maxJ {
		w := words[j>>5]
		if black {
			w = ^w
		}
		if w >>= uint(j & 31); w != 0 {
			return min(j+bits.TrailingZeros32(w), maxJ)
		}
		j = j | 31 + 1
	}
	return maxJ
}

// twoConfirmed says whether FindRowSkip has set f's hasSkipped: whether
// two of f's candidates are confirmed (seen at least
// FinderPatternFinder_CENTER_QUORUM times).
func twoConfirmed(f *detector.FinderPatternFinder) bool {
	n := 0
	for _, c := range f.GetPossibleCenters() {
		if c.GetCount() >= detector.FinderPatternFinder_CENTER_QUORUM {
			n++
		}
	}
	return n >= 2
}
