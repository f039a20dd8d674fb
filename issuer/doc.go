// Package issuer turns an issuance request into a signed certificate: it
// validates the request, fills the fields the issuer profile determines,
// makes the UVCI and signs with the issuer's document signer key.
//
// This file set holds the pure building blocks: UVCI generation with its
// Luhn mod N check character and ICAO 9303 transliteration of names.
package issuer
