//go:build ignore

// gencountries writes data/country-2-codes.json, the DCC value set of
// countries of vaccination or test: the ISO 3166-1 alpha-2 codes with their
// English names, from the CLDR data of golang.org/x/text. Run with
// go generate ./valueset.
package main

import (
	"encoding/json"
	"log"
	"os"
	"time"

	"golang.org/x/text/language"
	"golang.org/x/text/language/display"
)

// notISO are CLDR regions with country codes that ISO 3166-1 does not assign
// (exceptionally reserved or user-assigned), which the EU value set leaves out.
var notISO = map[string]bool{"AC": true, "CP": true, "CQ": true, "DG": true, "EA": true, "EZ": true, "IC": true, "TA": true, "UN": true, "XK": true}

type value struct {
	Display string `json:"display"`
	Lang    string `json:"lang"`
	Active  bool   `json:"active"`
	System  string `json:"system"`
}

func main() {
	values := map[string]value{}
	for a := 'A'; a <= 'Z'; a++ {
		for b := 'A'; b <= 'Z'; b++ {
			code := string([]rune{a, b})
			r, err := language.ParseRegion(code)
			if err != nil || !r.IsCountry() || r.String() != code || r.Canonicalize() != r || notISO[code] {
				continue
			}
			name := display.English.Regions().Name(r)
			if name == "" || name == code {
				continue // withdrawn codes CLDR no longer names
			}
			values[code] = value{Display: name, Lang: "en", Active: true, System: "urn:iso:std:iso:3166"}
		}
	}
	doc := map[string]any{"valueSetId": "country-2-codes", "valueSetDate": time.Now().UTC().Format(time.DateOnly), "valueSetValues": values}
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile("data/country-2-codes.json", append(out, '\n'), 0o644); err != nil {
		log.Fatal(err)
	}
	log.Printf("%d countries", len(values))
}
