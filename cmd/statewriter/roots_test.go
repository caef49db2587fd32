package main

import (
	"crypto/x509"
	"os"
	"os/exec"
	"testing"
)

// rootsChild marks the re-executed test binary: crypto/x509 loads the system roots once per process, so
// a process of its own is the only way to see what the writer sees in an image without a CA bundle.
const rootsChild = "STATEWRITER_ROOTS_CHILD"

// TestRootsWithoutASystemBundle runs the test binary again with SSL_CERT_FILE and SSL_CERT_DIR naming
// nothing (as in the image, which has no /etc/ssl) and checks there that TLS still has roots to verify
// Azure's endpoints against: the embedded fallback set.
func TestRootsWithoutASystemBundle(t *testing.T) {
	if os.Getenv(rootsChild) == "1" {
		pool, err := x509.SystemCertPool()
		if err != nil {
			t.Fatalf("no roots without a system bundle: %v", err)
		}
		if pool.Equal(x509.NewCertPool()) {
			t.Fatal("the root pool is empty without a system bundle")
		}
		return
	}
	empty := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestRootsWithoutASystemBundle$", "-test.count=1")
	cmd.Env = append(os.Environ(), rootsChild+"=1", "SSL_CERT_FILE="+empty+"/none.pem", "SSL_CERT_DIR="+empty)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child without a system bundle failed: %v\n%s", err, out)
	}
}
