package link

import (
	"testing"
	"time"
)

func TestBudget(t *testing.T) {
	b := Budget{Max: 100}
	if !b.Take(150) {
		t.Fatal("an empty queue refused one large message")
	}
	if b.Take(1) {
		t.Fatal("took beyond the budget")
	}
	b.Release(150)
	if !b.Take(60) || !b.Take(40) || b.Take(1) {
		t.Fatal("the budget is not exact")
	}
	b.Release(40)
	if !b.Take(40) {
		t.Fatal("released bytes not available again")
	}
}

func TestBackoff(t *testing.T) {
	b := Backoff{Min: 10 * time.Millisecond, Max: 80 * time.Millisecond}
	steps := []time.Duration{10, 20, 40, 80, 80, 80}
	for i, s := range steps {
		d := b.Next()
		if d < s*time.Millisecond/2 || d > s*time.Millisecond {
			t.Fatalf("step %d: %v, want in [%v, %v]", i, d, s*time.Millisecond/2, s*time.Millisecond)
		}
	}
	b.Reset()
	if d := b.Next(); d > 10*time.Millisecond {
		t.Fatalf("after Reset: %v", d)
	}
}
