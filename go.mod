module github.com/greenpass-dcc/greenpass

go 1.26.8

require (
	github.com/fxamacker/cbor/v2 v2.10.0
	github.com/klauspost/compress v1.20.3
	github.com/makiuchi-d/gozxing v0.1.1
	github.com/veraison/go-cose v1.3.0
	golang.org/x/image v0.47.0
)

require (
	github.com/x448/float16 v0.8.4 // indirect
	golang.org/x/text v0.43.0 // indirect
	golang.org/x/xerrors v0.0.0-20200804184101-5ec99f83aff1 // indirect
)
