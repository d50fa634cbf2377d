package embed_test

import (
	"context"
	"fmt"

	"github.com/quantumflow/quantumflow/internal/ingest/embed"
)

func ExampleHashing() {
	h := embed.NewHashing(0)
	chunks := []string{
		"func loadTLSCertificate(certFile, keyFile string) (tls.Certificate, error)",
		"func parseHTTPRequest(r *bufio.Reader) (*Request, error)",
	}
	vecs, err := h.Embed(context.Background(), append(chunks, "parse http request"))
	if err != nil {
		// handle error
	}
	query := embed.Quantize(vecs[2])
	for i := range chunks {
		fmt.Printf("%s %.2f\n", chunks[i][5:20], embed.Cosine(query, embed.Quantize(vecs[i])))
	}
	fmt.Println(h.Model())
	// Output:
	// loadTLSCertific 0.09
	// parseHTTPReques 0.68
	// qf-hash-v1-256
}
