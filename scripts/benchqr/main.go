// Command benchqr compares greenpass's QR reading with zbarimg on a photo
// corpus (manifest.tsv + expected.tsv, as in shared/testdata/photos), and
// renders fresh DCC QR images from which shared/tools/make-photos.sh can
// build a corpus nobody tuned for. Used by scripts/bench-qr.sh.
//
//	benchqr compare -greenpass BIN [-zbarimg PATH] CORPUS_DIR
//	benchqr render -n N OUT_DIR
package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"image/png"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
	qrdecoder "github.com/makiuchi-d/gozxing/qrcode/decoder"

	"github.com/greenpass-dcc/greenpass/hcert"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: benchqr compare|render …")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "compare":
		err = compare(os.Args[2:])
	case "render":
		err = render(os.Args[2:])
	default:
		err = fmt.Errorf("unknown subcommand %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchqr:", err)
		os.Exit(1)
	}
}

type item struct{ class, file, want string }

func loadCorpus(dir string) ([]item, error) {
	expected := map[string]string{}
	if err := eachRow(filepath.Join(dir, "expected.tsv"), func(f []string) { expected[f[0]] = f[1] }); err != nil {
		return nil, err
	}
	var items []item
	err := eachRow(filepath.Join(dir, "manifest.tsv"), func(f []string) {
		if len(f) < 3 {
			return
		}
		file := f[1]
		if _, err := os.Stat(filepath.Join(dir, file)); err == nil {
			file = filepath.Join(dir, file)
		}
		if want, ok := expected[f[2]]; ok {
			items = append(items, item{f[0], file, want})
		}
	})
	return items, err
}

func eachRow(path string, row func([]string)) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<16)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), "\t")
		if fields[0] == "class" || fields[0] == "source" {
			continue // header
		}
		row(fields)
	}
	return sc.Err()
}

// run executes a command and returns its stdout and the CPU time it used.
func run(name string, args ...string) (string, time.Duration, error) {
	cmd := exec.Command(name, args...)
	cmd.Stderr = nil
	out, err := cmd.Output()
	if cmd.ProcessState == nil {
		return "", 0, err
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	if _, ok := err.(*exec.ExitError); ok {
		err = nil // verify exits 1 for invalid certificates, zbarimg 4 when nothing is found
	}
	return string(out), cpu, err
}

var zbarSource = regexp.MustCompile(`(?s)<source href='([^']*)'>(.*?)</source>`)
var zbarData = regexp.MustCompile(`(?s)<!\[CDATA\[(.*?)\]\]>`)

func compare(args []string) error {
	fs := flag.NewFlagSet("compare", flag.ExitOnError)
	greenpass := fs.String("greenpass", "", "greenpass binary")
	zbarimg := fs.String("zbarimg", "zbarimg", "zbarimg binary (empty: greenpass only)")
	fs.Parse(args)
	if fs.NArg() != 1 || *greenpass == "" {
		return fmt.Errorf("usage: benchqr compare -greenpass BIN [-zbarimg PATH] CORPUS_DIR")
	}
	items, err := loadCorpus(fs.Arg(0))
	if err != nil {
		return err
	}
	byClass := map[string][]item{}
	for _, it := range items {
		byClass[it.class] = append(byClass[it.class], it)
	}
	classes := make([]string, 0, len(byClass))
	for c := range byClass {
		classes = append(classes, c)
	}
	sort.Strings(classes)

	fmt.Printf("%-17s %6s %10s %8s %12s %10s\n", "class", "images", "greenpass", "zbar", "greenpass ms", "zbar ms")
	var tn, tg, tz int
	var tcg, tcz time.Duration
	for _, c := range classes {
		its := byClass[c]
		files := make([]string, len(its))
		for i, it := range its {
			files[i] = it.file
		}
		out, cpuG, err := run(*greenpass, append([]string{"verify", "--json"}, files...)...)
		if err != nil {
			return fmt.Errorf("greenpass: %w", err)
		}
		gotG := map[string]string{}
		for _, line := range strings.Split(out, "\n") {
			var r struct{ Input, HC1 string }
			if json.Unmarshal([]byte(line), &r) == nil {
				gotG[r.Input] = r.HC1
			}
		}
		okG, okZ := 0, 0
		var cpuZ time.Duration
		gotZ := map[string]map[string]bool{}
		if *zbarimg != "" {
			zout, cpu, err := run(*zbarimg, append([]string{"--xml", "-q"}, files...)...)
			if err != nil {
				return fmt.Errorf("zbarimg: %w", err)
			}
			cpuZ = cpu
			for _, m := range zbarSource.FindAllStringSubmatch(zout, -1) {
				gotZ[m[1]] = map[string]bool{}
				for _, d := range zbarData.FindAllStringSubmatch(m[2], -1) {
					gotZ[m[1]][d[1]] = true
				}
			}
		}
		for _, it := range its {
			if gotG[it.file] == it.want {
				okG++
			}
			if gotZ[it.file][it.want] {
				okZ++
			}
		}
		n := len(its)
		fmt.Printf("%-17s %6d %10d %8d %12.1f %10.1f\n", c, n, okG, okZ,
			float64(cpuG.Microseconds())/1000/float64(n), float64(cpuZ.Microseconds())/1000/float64(n))
		tn, tg, tz, tcg, tcz = tn+n, tg+okG, tz+okZ, tcg+cpuG, tcz+cpuZ
	}
	fmt.Printf("%-17s %6d %9.1f%% %7.1f%% %12.1f %10.1f\n", "overall", tn, 100*float64(tg)/float64(tn), 100*float64(tz)/float64(tn),
		float64(tcg.Microseconds())/1000/float64(tn), float64(tcz.Microseconds())/1000/float64(tn))
	return nil
}

// render writes N QR images of freshly signed DCCs (random names, all three
// types, ECC level Q as issuers use, 3–5 px per module) and expected.tsv.
// With -mix the codes vary as other issuers' do: ECC levels L, M, Q and H,
// 2–6 px per module, quiet zones of 4, 2 and 1 modules, and given names of
// one, seven or 13 names (longer payloads, larger versions).
func render(args []string) error {
	fs := flag.NewFlagSet("render", flag.ExitOnError)
	n := fs.Int("n", 30, "number of images")
	mix := fs.Bool("mix", false, "vary ECC level, module size, quiet zone and payload length")
	fs.Parse(args)
	if fs.NArg() != 1 {
		return fmt.Errorf("usage: benchqr render [-mix] -n N OUT_DIR")
	}
	out := fs.Arg(0)
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	kid := []byte("rendered")
	expected := []string{"source\thc1"}
	writer := qrcode.NewQRCodeWriter()
	for i := range *n {
		ecc, px, margin, parts := qrdecoder.ErrorCorrectionLevel_Q, 3+i%3, 4, 1
		if *mix {
			ecc = []qrdecoder.ErrorCorrectionLevel{qrdecoder.ErrorCorrectionLevel_L, qrdecoder.ErrorCorrectionLevel_M,
				qrdecoder.ErrorCorrectionLevel_Q, qrdecoder.ErrorCorrectionLevel_H}[i%4]
			px, margin, parts = 2+(i/4)%5, []int{4, 2, 1}[(i/2)%3], 1+6*((i/3)%3)
		}
		cert := randomCertificate(i, parts)
		iat := time.Date(2021, 6, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Hour)
		msg, err := hcert.Sign(rand.Reader, key, kid, hcert.Claims{Issuer: "DE", IssuedAt: iat, ExpiresAt: iat.AddDate(1, 0, 0)}, cert)
		if err != nil {
			return err
		}
		text := hcert.EncodeText(msg)
		hints := map[gozxing.EncodeHintType]any{
			gozxing.EncodeHintType_ERROR_CORRECTION: ecc,
			gozxing.EncodeHintType_MARGIN:           margin,
		}
		probe, err := writer.Encode(text, gozxing.BarcodeFormat_QR_CODE, 1, 1, hints)
		if err != nil {
			return err
		}
		side := probe.GetWidth() * px
		bm, err := writer.Encode(text, gozxing.BarcodeFormat_QR_CODE, side, side, hints)
		if err != nil {
			return err
		}
		path := filepath.Join(out, fmt.Sprintf("dcc%03d.png", i))
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		if err := png.Encode(f, bm); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		expected = append(expected, path+"\t"+text)
	}
	return os.WriteFile(filepath.Join(out, "expected.tsv"), []byte(strings.Join(expected, "\n")+"\n"), 0o644)
}

var names = []string{"Müller", "Dąbrowska-Łukasiewicz", "O'Neill", "Nguyễn Văn", "Papadopoulou", "Smith", "García Márquez", "Ødegård", "Björk Guðmundsdóttir", "Kowalczyk"}

// randomCertificate makes the i-th certificate (vaccination, test and
// recovery in turn) with a given name of parts random names.
func randomCertificate(i, parts int) *hcert.Certificate {
	r := func(n int) int { v, _ := rand.Int(rand.Reader, big.NewInt(int64(n))); return int(v.Int64()) }
	c := &hcert.Certificate{
		Version:     "1.3.0",
		Name:        hcert.Name{Family: names[r(len(names))], FamilyStandard: "TEST<FAMILY", GivenStandard: "TEST"},
		DateOfBirth: fmt.Sprintf("19%02d-%02d-%02d", 30+r(70), 1+r(12), 1+r(28)),
	}
	given := make([]string, parts)
	for k := range given {
		given[k] = names[r(len(names))]
	}
	c.Name.Given = strings.Join(given, " ")
	id := fmt.Sprintf("URN:UVCI:01:DE:%X#%d", r(1<<62), r(10))
	switch i % 3 {
	case 0:
		c.Vaccinations = []hcert.Vaccination{{Target: "840539006", Vaccine: "1119349007", Product: "EU/1/20/1528", Manufacturer: "ORG-100030215",
			DoseNumber: hcert.Count(1 + r(3)), TotalDoses: 3, Date: "2021-05-29", Country: "DE", Issuer: "Robert Koch-Institut", ID: id}}
	case 1:
		c.Tests = []hcert.Test{{Target: "840539006", TestType: "LP217198-3", Device: "1232", SampledAt: "2021-05-29T10:00:00Z",
			Result: "260415000", Centre: "Testzentrum Musterstadt", Country: "DE", Issuer: "Robert Koch-Institut", ID: id}}
	default:
		c.Recoveries = []hcert.Recovery{{Target: "840539006", FirstPositive: "2021-01-10", Country: "DE", Issuer: "Robert Koch-Institut",
			ValidFrom: "2021-01-21", ValidUntil: "2021-07-10", ID: id}}
	}
	return c
}
