// Package wallet is the certificate transfer to wallet apps, both sides of
// the Corona-Warn-App DCC-server contract: the app registers an RSA key for
// a test, the issuer's certificate is stored encrypted to that key, the app
// picks it up, and the data is deleted after pickup or after its retention
// time.
//
// Service is the server side: registration tokens, device keys, the
// lab-facing search and upload, the direct delivery from our own issuers,
// pickup and retention. Client and Dir are the app side used by
// "greenpass wallet". Envelope crypto follows the contract byte for byte:
// a fresh AES-256 key per certificate, AES-CBC with PKCS#7 padding and a
// zero IV (one key encrypts one message), the key wrapped with RSA-OAEP
// (SHA-256, MGF1-SHA-256).
package wallet
