package render

import (
	"bytes"
	"fmt"
	"strconv"
	"time"

	"github.com/signintech/gopdf"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"

	"github.com/greenpass-dcc/greenpass/hcert"
	"github.com/greenpass-dcc/greenpass/valueset"
)

// Document is what the printable certificate shows.
type Document struct {
	HC1         string
	Certificate *hcert.Certificate
	IssuedAt    time.Time
	ExpiresAt   time.Time
	// ValueSets give coded values their names (the codes are shown when
	// a code is unknown).
	ValueSets valueset.Sets
}

// Page layout in millimetres (A4 portrait).
const (
	pageW, pageH = 210.0, 297.0
	margin       = 20.0
	// qrWidth is the printed width of the symbol without its quiet zone:
	// 70 mm keeps modules ≥ 0.9 mm up to version 20 (97 modules would be
	// 0.72 mm), well above what phone cameras resolve at arm's length.
	qrWidth  = 70.0
	labelW   = 62.0
	fontBody = 10.5
)

// PDF renders the A4 certificate: the QR code 70 mm wide with its quiet
// zone kept clear, the holder's names and birth date, the entry's
// details, issuer and dates. Times keep the zone they were given in (a
// test's sample time) and say which; issue and expiry are in UTC.
func PDF(d Document) ([]byte, error) {
	m, err := Encode(d.HC1)
	if err != nil {
		return nil, err
	}
	pdf := &gopdf.GoPdf{}
	pdf.Start(gopdf.Config{PageSize: *gopdf.PageSizeA4, Unit: gopdf.UnitMM})
	pdf.SetInfo(gopdf.PdfInfo{Title: "EU Digital COVID Certificate", Creator: "greenpass"})
	if err := pdf.AddTTFFontData("regular", goregular.TTF); err != nil {
		return nil, fmt.Errorf("render: font: %w", err)
	}
	if err := pdf.AddTTFFontData("bold", gobold.TTF); err != nil {
		return nil, fmt.Errorf("render: font: %w", err)
	}
	pdf.AddPage()
	w := &writer{pdf: pdf, y: margin}

	w.text("bold", 16, margin, "Digitales COVID-Zertifikat der EU")
	w.text("regular", 12, margin, "EU Digital COVID Certificate — "+typeTitle(d.Certificate.Type()))
	w.y += 6

	// The symbol, centred, as a one-pixel-per-module image that the
	// viewer or printer scales without smoothing. (Vector rectangles were
	// tried first: rasterisers fill every pixel a rectangle touches, so
	// dark modules grew by a pixel at 150 dpi and decoders misjudged the
	// module size.) The image carries its white quiet zone.
	module := qrWidth / float64(m.Size)
	side := qrWidth + 2*QuietZone*module
	x0 := (pageW - side) / 2
	if err := pdf.ImageFrom(m.Image(1), x0, w.y, &gopdf.Rect{W: side, H: side}); err != nil {
		return nil, fmt.Errorf("render: QR image: %w", err)
	}
	w.y += side + 4

	c := d.Certificate
	w.row("Name (Familienname, Vorname)", "Name (surname, forename)", join(c.Name.Family, c.Name.Given))
	w.row("Standardisierter Name", "Standardised name", join(c.Name.FamilyStandard, c.Name.GivenStandard))
	w.row("Geburtsdatum", "Date of birth", orDash(c.DateOfBirth))
	w.y += 2
	vs := d.ValueSets
	var country, issuer, uvci string
	switch {
	case len(c.Vaccinations) > 0:
		v := c.Vaccinations[0]
		w.row("Krankheit", "Disease or agent targeted", vs.Display(valueset.Disease, v.Target))
		w.row("Impfstoff", "Vaccine / prophylaxis", vs.Display(valueset.Vaccine, v.Vaccine))
		w.row("Produkt", "Vaccine medicinal product", vs.Display(valueset.Product, v.Product))
		w.row("Hersteller", "Marketing authorisation holder", vs.Display(valueset.Manufacturer, v.Manufacturer))
		w.row("Dosis", "Dose number / series", strconv.Itoa(int(v.DoseNumber))+" / "+strconv.Itoa(int(v.TotalDoses)))
		w.row("Datum der Impfung", "Date of vaccination", v.Date)
		country, issuer, uvci = v.Country, v.Issuer, v.ID
	case len(c.Tests) > 0:
		t := c.Tests[0]
		w.row("Krankheit", "Disease or agent targeted", vs.Display(valueset.Disease, t.Target))
		w.row("Art des Tests", "Type of test", vs.Display(valueset.TestType, t.TestType))
		if t.TestName != "" {
			w.row("Testname", "Test name", t.TestName)
		}
		if t.Device != "" {
			w.row("Test (Gerät)", "Test device identifier", t.Device)
		}
		w.row("Probenahme", "Date and time of sample collection", zoned(t.SampledAt))
		w.row("Testergebnis", "Result of the test", vs.Display(valueset.TestResult, t.Result))
		if t.Centre != "" {
			w.row("Testzentrum", "Testing centre", t.Centre)
		}
		country, issuer, uvci = t.Country, t.Issuer, t.ID
	case len(c.Recoveries) > 0:
		r := c.Recoveries[0]
		w.row("Krankheit", "Disease or agent targeted", vs.Display(valueset.Disease, r.Target))
		w.row("Erster positiver Test", "Date of first positive test", r.FirstPositive)
		w.row("Gültig ab", "Certificate valid from", r.ValidFrom)
		w.row("Gültig bis", "Certificate valid until", r.ValidUntil)
		country, issuer, uvci = r.Country, r.Issuer, r.ID
	}
	w.y += 2
	w.row("Land", "Member state", country)
	w.row("Aussteller", "Certificate issuer", issuer)
	w.row("Zertifikatkennung", "Unique certificate identifier", uvci)
	w.row("Ausgestellt", "Issued", d.IssuedAt.UTC().Format("2006-01-02 15:04")+" UTC")
	w.row("Technisch gültig bis", "Technical expiry", d.ExpiresAt.UTC().Format("2006-01-02 15:04")+" UTC")
	w.y += 4
	w.note("Zeiten stehen in der Zeitzone, in der sie erfasst wurden; Ausstellung und technisches Ablaufdatum in UTC. " +
		"Das technische Ablaufdatum ist nicht die Dauer des Impfschutzes.")
	w.note("Times are shown in the time zone they were recorded in; issue and technical expiry in UTC. " +
		"The technical expiry is not the period of protection.")
	if w.err != nil {
		return nil, fmt.Errorf("render: %w", w.err)
	}
	var buf bytes.Buffer
	if _, err := pdf.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("render: write PDF: %w", err)
	}
	return buf.Bytes(), nil
}

// writer lays out text top to bottom, keeping the first error.
type writer struct {
	pdf *gopdf.GoPdf
	y   float64
	err error
}

func (w *writer) font(family string, size float64) {
	if w.err == nil {
		w.err = w.pdf.SetFont(family, "", size)
	}
}

func (w *writer) text(family string, size, x float64, s string) {
	w.font(family, size)
	w.pdf.SetXY(x, w.y)
	if w.err == nil {
		w.err = w.pdf.Cell(nil, s)
	}
	w.y += size * 0.3528 * 1.4 // points to millimetres, with line spacing
}

// row writes a bilingual label and the value beside it, wrapping long
// values.
func (w *writer) row(de, en, value string) {
	top := w.y
	w.text("bold", 8.5, margin, de)
	w.text("regular", 8, margin, en)
	bottom := w.y
	w.y = top
	w.font("regular", fontBody)
	if w.err != nil {
		return
	}
	lines, err := w.pdf.SplitTextWithWordWrap(value, pageW-2*margin-labelW)
	if err != nil || len(lines) == 0 {
		lines = []string{value}
	}
	for _, l := range lines {
		w.text("regular", fontBody, margin+labelW, l)
	}
	w.y = max(w.y, bottom) + 1.5
}

func (w *writer) note(s string) {
	w.font("regular", 8)
	if w.err != nil {
		return
	}
	lines, err := w.pdf.SplitTextWithWordWrap(s, pageW-2*margin)
	if err != nil {
		lines = []string{s}
	}
	for _, l := range lines {
		w.text("regular", 8, margin, l)
	}
	w.y += 1
}

func typeTitle(t hcert.Type) string {
	switch t {
	case hcert.TypeVaccination:
		return "Impfzertifikat / Vaccination certificate"
	case hcert.TypeTest:
		return "Testzertifikat / Test certificate"
	case hcert.TypeRecovery:
		return "Genesenenzertifikat / Certificate of recovery"
	}
	return ""
}

func join(family, given string) string {
	switch {
	case family == "":
		return orDash(given)
	case given == "":
		return family
	}
	return family + ", " + given
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// zoned writes a date-time in the zone it was given in and names the zone:
// "2026-11-23 09:35 (UTC+02:00)".
func zoned(s string) string {
	t, err := hcert.ParseDateTime(s)
	if err != nil {
		return s
	}
	zone := t.Format("-07:00")
	if zone == "+00:00" {
		return t.Format("2006-01-02 15:04") + " (UTC)"
	}
	return t.Format("2006-01-02 15:04") + " (UTC" + zone + ")"
}
