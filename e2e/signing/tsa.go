package signing

import (
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/digitorus/timestamp"
)

// tsaPolicy is the TSA policy OID the test TSA stamps (a private arc; any
// policy will do for notation, which does not pin one).
var tsaPolicy = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 1}

// tsa is an RFC 3161 timestamping authority on loopback, signing with a
// certificate under its own root, as MCR's timestamps are.
type tsa struct {
	url  string
	srv  *http.Server
	root *cert
}

// maxTSARequest bounds a timestamp request (a few hundred bytes in practice).
const maxTSARequest = 64 << 10

func startTSA(root, signer *cert) (*tsa, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxTSARequest))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		req, err := timestamp.ParseRequest(body)
		if err != nil {
			http.Error(w, "timestamp request: "+err.Error(), http.StatusBadRequest)
			return
		}
		ts := timestamp.Timestamp{
			HashAlgorithm:     req.HashAlgorithm,
			HashedMessage:     req.HashedMessage,
			Time:              time.Now().UTC(),
			Nonce:             req.Nonce,
			Policy:            tsaPolicy,
			Accuracy:          time.Second,
			AddTSACertificate: true,
			Certificates:      []*x509.Certificate{root.cert},
		}
		resp, err := ts.CreateResponseWithOpts(signer.cert, signer.key, crypto.SHA256)
		if err != nil {
			http.Error(w, "timestamp response: "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/timestamp-reply")
		w.Write(resp)
	})
	t := &tsa{url: "http://" + ln.Addr().String() + "/", srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}, root: root}
	go func() { _ = t.srv.Serve(ln) }() // ends with Close
	return t, nil
}

func (t *tsa) Close() { _ = t.srv.Close() }
