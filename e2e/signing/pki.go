package signing

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"time"
)

// RSA-3072 makes notation sign with RSASSA-PSS-SHA-384, MCR's algorithm.
const rsaBits = 3072

// cert is one certificate of the test PKI with its key.
type cert struct {
	cert *x509.Certificate
	key  *rsa.PrivateKey
}

// certRole is what a certificate may do, which notation and RFC 3161 check.
type certRole int

const (
	roleCA certRole = iota
	roleCodeSigning
	roleTimestamping
)

var (
	oidExtKeyUsage   = asn1.ObjectIdentifier{2, 5, 29, 37}
	oidTimeStamping  = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 8}
	certNotBefore    = func() time.Time { return time.Now().Add(-time.Hour).Truncate(time.Second) }
	certLifetime     = 24 * time.Hour
	serialNumberBits = uint(64)
)

// newCert makes a certificate named cn for role, signed by parent (self-signed
// when parent is nil).
func newCert(cn string, role certRole, parent *cert) (*cert, error) {
	key, err := rsa.GenerateKey(rand.Reader, rsaBits)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), serialNumberBits))
	if err != nil {
		return nil, err
	}
	nb := certNotBefore()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		// notation's trusted identities need C, ST and O at least.
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"sdkfront lab"}, Province: []string{"WA"}, Country: []string{"US"}},
		NotBefore:             nb,
		NotAfter:              nb.Add(certLifetime),
		BasicConstraintsValid: true,
	}
	switch role {
	case roleCA:
		tmpl.IsCA = true
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	case roleCodeSigning:
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}
	case roleTimestamping:
		// RFC 3161 2.3: the only extended key usage, and critical; Go
		// writes it non-critical unless the extension is given raw.
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		eku, err := asn1.Marshal([]asn1.ObjectIdentifier{oidTimeStamping})
		if err != nil {
			return nil, err
		}
		tmpl.ExtraExtensions = []pkix.Extension{{Id: oidExtKeyUsage, Critical: true, Value: eku}}
	}
	signer, signerCert := crypto.Signer(key), tmpl
	if parent != nil {
		signer, signerCert = parent.key, parent.cert
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signerCert, key.Public(), signer)
	if err != nil {
		return nil, fmt.Errorf("certificate %q: %w", cn, err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &cert{cert: c, key: key}, nil
}

// writeCerts writes certs as one PEM file, in order.
func writeCerts(path string, certs ...*cert) error {
	var b []byte
	for _, c := range certs {
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.cert.Raw})...)
	}
	return os.WriteFile(path, b, 0o644)
}

// writeKey writes c's private key as PKCS #8 PEM.
func writeKey(path string, c *cert) error {
	der, err := x509.MarshalPKCS8PrivateKey(c.key)
	if err != nil {
		return err
	}
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
}
