// Package qrscan turns image bytes into the text of the QR code they show:
// bounded image decoding (bytes and pixels checked from the header first),
// then a search that runs from the cheapest pass (every code in the
// picture as it is) to costlier ones (sharpening, upscaling, inversion,
// denoising, sampling the module grid of a located code itself, finder
// patterns by correlation, and last a soft reading that corrects the least
// sure codewords as erasures) until the code the caller accepts is read or
// the budget is spent. Phone photos
// of screens and printouts, blurred, small, tilted and noisy, are what it
// is built for; the photo corpus in shared/testdata/photos is its ratchet.
//
// It knows nothing of certificates: the caller says which code it wants.
package qrscan
