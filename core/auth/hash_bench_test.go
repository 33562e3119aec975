package auth

import "testing"

// realParams are the DefaultParams a server uses, saved before TestMain
// lowers them for the tests (package variables are set before TestMain).
var realParams = DefaultParams

// BenchmarkHash is one argon2id hash with the real DefaultParams: the
// work of a login (Verify) and of a guess against a stolen record. Its
// ns/op is the CPU of one core; BENCHMARKS.md records it.
func BenchmarkHash(b *testing.B) {
	digest := Digest("correct horse battery staple")
	salt := make([]byte, saltLen)
	for b.Loop() {
		hash(digest, salt, realParams)
	}
	// The parameters, in the output beside the time.
	b.ReportMetric(float64(realParams.Time), "t")
	b.ReportMetric(float64(realParams.Memory)/1024, "MiB")
	b.ReportMetric(float64(realParams.Threads), "p")
}
