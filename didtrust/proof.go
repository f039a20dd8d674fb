package didtrust

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/piprate/json-gold/ld"
)

// The JSON-LD contexts the documents use, pinned: a verifier never
// fetches a context (a changed context would change what a signature
// covers).
const (
	ContextDID     = "https://www.w3.org/ns/did/v1"
	ContextJWS2020 = "https://w3id.org/security/suites/jws-2020/v1"
	// ContextTNG is the trust network's context newer WHO documents add
	// (-DEV for the development network): it makes domain, participant and
	// keyusage IRIs in WHO's value sets, so the proof covers them. The
	// copies are those of WHO's key distribution (did_contexts/v1.jsonld,
	// v1-dev.jsonld).
	ContextTNG    = "https://smart.who.int/trust/tng-context/v1.jsonld"
	ContextTNGDev = "https://smart.who.int/trust/tng-context/v1-DEV.jsonld"
)

//go:embed contexts/*.jsonld
var contextFiles embed.FS

var contextPaths = map[string]string{
	ContextDID:     "contexts/did-v1.jsonld",
	ContextJWS2020: "contexts/jws-2020-v1.jsonld",
	ContextTNG:     "contexts/tng-context-v1.jsonld",
	ContextTNGDev:  "contexts/tng-context-v1-dev.jsonld",
}

// Errors callers branch on.
var (
	ErrProof    = errors.New("DID document proof does not verify")
	ErrDocument = errors.New("malformed DID trust list")
	ErrContext  = errors.New("unknown JSON-LD context")
)

// pinnedContexts loads only the embedded contexts.
type pinnedContexts struct{}

func (pinnedContexts) LoadDocument(u string) (*ld.RemoteDocument, error) {
	p, ok := contextPaths[u]
	if !ok {
		return nil, fmt.Errorf("%w %q (the pinned ones: %s, %s, %s, %s)", ErrContext, u, ContextDID, ContextJWS2020, ContextTNG, ContextTNGDev)
	}
	f, err := contextFiles.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	doc, err := ld.DocumentFromReader(f)
	if err != nil {
		return nil, fmt.Errorf("context %s: %w", path.Base(p), err)
	}
	return &ld.RemoteDocument{DocumentURL: u, Document: doc}, nil
}

// canonical is the URDNA2015 canonical N-Quads of a JSON-LD object.
// Members the contexts do not define are dropped, as JSON-LD processors
// do: a signature covers only what the contexts define.
//
// json-gold is quadratic in a node's values (each value added is compared
// with every one before it) and joins its output by repeated string
// concatenation: 97 s for a document of 10,000 DSCs. A list document has
// no blank nodes (checkShape: the document and every entry carry an id,
// keys are JSON literals), and the canonical form of a graph without
// blank nodes is its set of N-Quads, sorted. So the document is expanded
// once, and the expanded node is turned into quads a verificationMethod
// value at a time (the node's id with that one value), the quads merged:
// the same set, in linear time. A fragment with a blank node is refused.
// Panics of json-gold on hostile input are errors.
func canonical(obj map[string]any) (out []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("%w: canonical form: %v", ErrDocument, r)
		}
	}()
	expanded, err := ld.NewJsonLdProcessor().Expand(obj, ldOptions())
	if err != nil {
		return nil, ldError(err)
	}
	const vmIRI = "https://w3id.org/security#verificationMethod"
	lines := map[string]struct{}{}
	add := func(frag any, whole bool) error {
		quads, err := canonicalQuads(frag, whole)
		if err != nil {
			return err
		}
		for _, l := range quads {
			lines[l] = struct{}{}
		}
		return nil
	}
	for _, n := range expanded {
		node, ok := n.(map[string]any)
		values, split := node[vmIRI].([]any)
		if _, hasID := node["@id"]; !ok || !hasID || !split {
			if err := add([]any{n}, len(expanded) == 1); err != nil {
				return nil, err
			}
			continue
		}
		base := maps.Clone(node)
		delete(base, vmIRI)
		if err := add([]any{base}, false); err != nil {
			return nil, err
		}
		for _, v := range values {
			if err := add([]any{map[string]any{"@id": node["@id"], vmIRI: []any{v}}}, false); err != nil {
				return nil, err
			}
		}
	}
	var buf bytes.Buffer
	for _, l := range slices.Sorted(maps.Keys(lines)) {
		buf.WriteString(l)
	}
	return buf.Bytes(), nil
}

func ldOptions() *ld.JsonLdOptions {
	opts := ld.NewJsonLdOptions("")
	opts.Algorithm = ld.AlgorithmURDNA2015
	opts.ProcessingMode = ld.JsonLd_1_1
	opts.DocumentLoader = pinnedContexts{}
	return opts
}

func ldError(err error) error {
	if strings.Contains(err.Error(), ErrContext.Error()) {
		return fmt.Errorf("%w: %v", ErrContext, err)
	}
	return fmt.Errorf("%w: canonical form: %v", ErrDocument, err)
}

// canonicalQuads is the canonical N-Quads (each with its newline) of
// expanded JSON-LD without blank nodes, except, when it is the whole
// object, for one subject: the proof options' node, which has no id.
func canonicalQuads(expanded any, whole bool) ([]string, error) {
	rdf, err := ld.NewJsonLdProcessor().ToRDF(expanded, ldOptions())
	if err != nil {
		return nil, ldError(err)
	}
	dataset, ok := rdf.(*ld.RDFDataset)
	if !ok {
		return nil, fmt.Errorf("%w: canonical form: no dataset", ErrDocument)
	}
	na := ld.NewNormalisationAlgorithm(ld.AlgorithmURDNA2015)
	na.Normalize(dataset)
	var lines []string
	subjects := map[string]bool{}
	for _, q := range na.Quads() {
		if q.Graph != nil && q.Graph.GetValue() != "@default" {
			return nil, fmt.Errorf("%w: a named graph", ErrDocument)
		}
		if ld.IsBlankNode(q.Subject) {
			subjects[q.Subject.GetValue()] = true
		}
		if (q.Object != nil && ld.IsBlankNode(q.Object)) || len(subjects) > 1 || (!whole && len(subjects) > 0) {
			return nil, fmt.Errorf("%w: a node without an id", ErrDocument)
		}
		var buf bytes.Buffer
		if err := (&ld.NQuadRDFSerializer{}).SerializeTo(&buf, &ld.RDFDataset{Graphs: map[string][]*ld.Quad{"@default": {q}}}); err != nil {
			return nil, err
		}
		lines = append(lines, buf.String())
	}
	return lines, nil
}

// Proof is a JsonWebSignature2020 proof.
type Proof struct {
	Type               string `json:"type"`
	Created            string `json:"created"`
	Nonce              string `json:"nonce,omitempty"`
	Domain             string `json:"domain,omitempty"`
	ProofPurpose       string `json:"proofPurpose"`
	VerificationMethod string `json:"verificationMethod"`
	JWS                string `json:"jws"`
}

// jwsHeader is the protected header of the detached, unencoded-payload
// JWS (RFC 7797) the proof carries.
var jwsHeader = base64.RawURLEncoding.EncodeToString([]byte(`{"b64":false,"crit":["b64"],"alg":"ES256"}`))

// signingInput is what a JsonWebSignature2020 signer signs (the Linked
// Data Proofs algorithm that ld-signatures-java, WHO's key distribution's
// signer, implements): SHA-256 of the canonical proof options (the proof
// without its jws, under the document's @context), then SHA-256 of the
// canonical document without its proof, behind the JWS header (base64url,
// as sent): "header." + those 64 bytes. Proof options that canonicalise to
// nothing (a context that does not define the proof's terms) would leave
// created, nonce and verificationMethod unsigned: refused.
func signingInput(header string, doc map[string]any, proof map[string]any) ([]byte, error) {
	opts := maps.Clone(proof)
	delete(opts, "jws")
	delete(opts, "proofValue")
	delete(opts, "signatureValue")
	opts["@context"] = doc["@context"]
	body := maps.Clone(doc)
	delete(body, "proof")
	po, err := canonical(opts)
	if err != nil {
		return nil, err
	}
	if !bytes.Contains(po, []byte("<https://w3id.org/security#verificationMethod>")) {
		return nil, fmt.Errorf("%w: the proof's terms are not defined by the document's contexts", ErrProof)
	}
	d, err := canonical(body)
	if err != nil {
		return nil, err
	}
	hp, hd := sha256.Sum256(po), sha256.Sum256(d)
	in := make([]byte, 0, len(header)+1+64)
	in = append(append(append(append(in, header...), '.'), hp[:]...), hd[:]...)
	return in, nil
}

// Resign replaces a document's proof with a new one by s, dated created:
// a publisher's tool, and the tests' way to sign documents of any shape.
func Resign(raw []byte, s Signer, created time.Time) ([]byte, error) {
	var obj map[string]any
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDocument, err)
	}
	delete(obj, "proof")
	nonce := ""
	if s.Nonce != nil {
		nonce = s.Nonce()
	}
	if err := sign(obj, s.Key, s.Method, created, nonce); err != nil {
		return nil, err
	}
	return json.Marshal(obj)
}

// sign adds a proof by key (ECDSA P-256) to doc (a document as JSON
// objects). The signature is JOSE's r‖s.
func sign(doc map[string]any, key crypto.Signer, method string, created time.Time, nonce string) error {
	proof := map[string]any{
		"type":               "JsonWebSignature2020",
		"created":            created.UTC().Format(time.RFC3339),
		"proofPurpose":       "assertionMethod",
		"verificationMethod": method,
	}
	if nonce != "" {
		proof["nonce"] = nonce
	}
	in, err := signingInput(jwsHeader, doc, proof)
	if err != nil {
		return err
	}
	h := sha256.Sum256(in)
	der, err := key.Sign(rand.Reader, h[:], crypto.SHA256)
	if err != nil {
		return err
	}
	var rs struct{ R, S *big.Int }
	if rest, err := asn1.Unmarshal(der, &rs); err != nil || len(rest) > 0 || rs.R.BitLen() > 256 || rs.S.BitLen() > 256 {
		return fmt.Errorf("didtrust: the key's signature is not an ECDSA P-256 signature")
	}
	sig := make([]byte, 64)
	rs.R.FillBytes(sig[:32])
	rs.S.FillBytes(sig[32:])
	proof["jws"] = jwsHeader + ".." + base64.RawURLEncoding.EncodeToString(sig)
	doc["proof"] = proof
	return nil
}

// verify checks doc's proof under key. The signature may be JOSE's
// r‖s or ASN.1 DER: WHO's key distribution signs with Java's
// SHA256withECDSA, which writes DER.
func verify(doc map[string]any, key *ecdsa.PublicKey) error {
	p, ok := doc["proof"].(map[string]any)
	if !ok {
		return fmt.Errorf("%w: no proof", ErrProof)
	}
	if t, _ := p["type"].(string); t != "JsonWebSignature2020" {
		return fmt.Errorf("%w: proof type %q, not JsonWebSignature2020", ErrProof, t)
	}
	jws, _ := p["jws"].(string)
	header, sigPart, ok := strings.Cut(jws, "..")
	if !ok || strings.Contains(sigPart, ".") {
		return fmt.Errorf("%w: jws is not a detached JWS", ErrProof)
	}
	var h struct {
		Alg  string   `json:"alg"`
		B64  *bool    `json:"b64"`
		Crit []string `json:"crit"`
	}
	hb, err := base64.RawURLEncoding.DecodeString(header)
	if err != nil || json.Unmarshal(hb, &h) != nil {
		return fmt.Errorf("%w: unreadable JWS header", ErrProof)
	}
	if h.Alg != "ES256" || h.B64 == nil || *h.B64 || len(h.Crit) != 1 || h.Crit[0] != "b64" {
		return fmt.Errorf("%w: JWS header %s: want ES256 with an unencoded payload", ErrProof, hb)
	}
	sig, err := base64.RawURLEncoding.DecodeString(sigPart)
	if err != nil {
		return fmt.Errorf("%w: signature is not base64url", ErrProof)
	}
	in, err := signingInput(header, doc, p)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(in)
	switch {
	case len(sig) == 64:
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		if ecdsa.Verify(key, sum[:], r, s) {
			return nil
		}
	case len(sig) > 0 && sig[0] == 0x30:
		if ecdsa.VerifyASN1(key, sum[:], sig) {
			return nil
		}
	}
	return fmt.Errorf("%w under the pinned key", ErrProof)
}
