# Build: a static greenpass binary. Run: distroless, non-root.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# disable_grpc_modules: see the Makefile's build target.
RUN CGO_ENABLED=0 go build -tags disable_grpc_modules -trimpath -ldflags="-s -w" -o /greenpass ./cmd/greenpass

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /greenpass /greenpass
EXPOSE 8080
ENTRYPOINT ["/greenpass"]
CMD ["serve"]
