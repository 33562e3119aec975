package runner

import (
	"fmt"
	"testing"

	"github.com/distkv-go/distkv/core/path"
)

// TestRankSpread: the runners of a group come first for about as many
// jobs each, also when their names differ only in the last character (as
// host names do, and as the servers of distkv-bench do: bench1, bench2,
// bench3, where the jobdelay benchmark saw 100, 50 and 50 of 200 jobs
// run on them, every time), and every job has exactly one first.
func TestRankSpread(t *testing.T) {
	for _, names := range [][]string{{"bench1", "bench2", "bench3"}, {"a", "b", "c"}, {"runner-east", "runner-west", "runner-north"}} {
		live := map[string]bool{}
		for _, n := range names {
			live[n] = true
		}
		const jobs = 600
		first := map[string]int{}
		for i := range jobs {
			job := path.Must("bench", fmt.Sprintf("%06d", i))
			firsts := 0
			for _, n := range names {
				m := &members{self: n, live: live}
				if m.rank(job) == 0 {
					first[n]++
					firsts++
				}
			}
			if firsts != 1 {
				t.Fatalf("%v: job %v has %d runners ranked first", names, job, firsts)
			}
		}
		t.Logf("%v: firsts %v", names, first)
		// Even would be 200 each; a fair hash stays within ±25 % of it
		// (about 7 standard deviations).
		for _, n := range names {
			if k := first[n]; k < 150 || k > 250 {
				t.Errorf("%v: %s is first for %d of %d jobs, want about %d: %v", names, n, k, jobs, jobs/len(names), first)
			}
		}
	}
}
