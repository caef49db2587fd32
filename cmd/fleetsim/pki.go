package main

// Vehicle identities as the platform checks them (autocloud/runtime/fleet_pki.py issues the same shape
// from Python): an EC P-256 key, a certificate whose subject CN is the registration id, clientAuth, signed
// by the region's fleet CA, sent with that CA as the chain, since "the device must send the certificate
// chain from the leaf certificate to a certificate verified with proof-of-possession"
// (https://learn.microsoft.com/azure/iot-dps/concepts-x509-attestation). Issuing here from the CA key
// saves writing and reading 10,000 PEM pairs; the certificates live only as long as the run.

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"time"
)

// clockSkew back-dates a certificate, as fleet_pki.py's CLOCK_SKEW, for a server whose clock runs ahead.
const clockSkew = 5 * time.Minute

// Issuer signs vehicle certificates with the fleet CA.
type Issuer struct {
	ca       *x509.Certificate
	key      crypto.Signer
	notAfter time.Time
}

// LoadIssuer reads the fleet CA; its certificates are valid until notAfter (at most the CA's own end).
func LoadIssuer(certFile, keyFile string, notAfter time.Time) (*Issuer, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("fleet CA: %w", err)
	}
	block, _ := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("fleet CA %s: no PEM certificate", certFile)
	}
	ca, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("fleet CA %s: %w", certFile, err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("fleet CA key: %w", err)
	}
	key, err := parseKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("fleet CA key %s: %w", keyFile, err)
	}
	if !publicKeysEqual(key.Public(), ca.PublicKey) {
		return nil, fmt.Errorf("fleet CA key %s is not the key of %s", keyFile, certFile)
	}
	if notAfter.After(ca.NotAfter) {
		notAfter = ca.NotAfter
	}
	return &Issuer{ca: ca, key: key, notAfter: notAfter}, nil
}

func parseKey(data []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM key")
	}
	if key, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		if signer, ok := key.(crypto.Signer); ok {
			return signer, nil
		}
		return nil, errors.New("key cannot sign")
	}
	return x509.ParseECPrivateKey(block.Bytes)
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	e, ok := a.(equaler)
	return ok && e.Equal(b)
}

// Issue makes registrationID's certificate and key, chained to the fleet CA.
func (is *Issuer) Issue(registrationID string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, err
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return tls.Certificate{}, err
	}
	ski := sha1.Sum(pub)
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: registrationID},
		NotBefore:             time.Now().Add(-clockSkew),
		NotAfter:              is.notAfter,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		SubjectKeyId:          ski[:],
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, is.ca, &key.PublicKey, is.key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der, is.ca.Raw}, PrivateKey: key}, nil
}

// ServerRoots is the pool server certificates are checked against: the plan's CA, else the system's.
func ServerRoots(caPEM string) (*x509.CertPool, error) {
	if caPEM == "" {
		return x509.SystemCertPool()
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(caPEM)) {
		return nil, errors.New("server_ca_pem: no PEM certificate in it")
	}
	return pool, nil
}

// clientTLS is a vehicle's TLS towards ep: TLS 1.2 or later, as IoT Hub and DPS require, with its
// certificate chain.
func clientTLS(roots *x509.CertPool, ep Endpoint, cert *tls.Certificate) *tls.Config {
	name := ep.ServerName
	if name == "" {
		name = hostOf(ep.Address)
	}
	return &tls.Config{RootCAs: roots, ServerName: name, MinVersion: tls.VersionTLS12,
		Certificates: []tls.Certificate{*cert}}
}
