package d1

import "testing"

// TestEstimateRows: the estimate counts this result's rows only (never the rest of the body),
// skipping brackets in strings and BLOB arrays.
func TestEstimateRows(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
	}{
		{`]}`, 1}, // no rows: at least 1
		{`[1,"a"],[2,"b"]]},{"results":{"rows":[[3],[4],[5]]}}`, 2},
		{`[1,[0,255,7]],[2,[]]]`, 2},
		{`["],[", "\"]"],["[["]] trailing [[[[`, 2},
		{`[1],[2],[3`, 3}, // truncated: what was seen
	} {
		if got := estimateRows([]byte(tc.in)); got != tc.want {
			t.Errorf("estimateRows(%s) = %d, want %d", tc.in, got, tc.want)
		}
	}
}
