package workspace

import "testing"

func TestOf(t *testing.T) {
	for _, tt := range []struct{ in, want int64 }{{0, DefaultID}, {1, 1}, {42, 42}} {
		if got := Of(tt.in); got != tt.want {
			t.Errorf("Of(%d) = %d, want %d", tt.in, got, tt.want)
		}
	}
}
