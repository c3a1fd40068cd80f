package main

import (
	"crypto/tls"
	"slices"
)

// tls12CipherSuites are the TLS 1.2 cipher suites of every TLS config
// Postern serves: Mozilla's "intermediate" set (server side TLS
// guidelines, version 5.7), i.e. ECDHE key exchange (forward secrecy)
// with an AEAD cipher. Left out: every CBC suite (SHA-1/SHA-256 MACs,
// padding oracles like Lucky Thirteen) and RSA key exchange (no forward
// secrecy; ROBOT). Go picks among them by its own preference (hardware
// AES first). TLS 1.3 suites are not configurable in Go and are all AEAD.
var tls12CipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// restrictTLS sets c's protocol floor (TLS 1.2, RFC 8314 section 4.1
// asks for current TLS) and its TLS 1.2 suites (tls12CipherSuites), in
// place. Every server tls.Config Postern builds goes through it: the mail
// config of each tls.mode and the ACME TLS-ALPN-01 listener's.
func restrictTLS(c *tls.Config) {
	c.MinVersion = tls.VersionTLS12
	c.CipherSuites = slices.Clone(tls12CipherSuites)
}
