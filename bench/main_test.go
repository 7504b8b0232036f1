package main

import (
	"slices"
	"testing"
	"time"
)

func TestParseFlags(t *testing.T) {
	cfg, err := parseFlags(nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Requests != 1_000_000 || cfg.NaiveN != 20_000 || cfg.Runs != 3 || cfg.Keys != 10_000 || !slices.Equal(cfg.Variants, allVariants) {
		t.Errorf("defaults: %+v", cfg)
	}

	cfg, err = parseFlags([]string{"-quick"})
	if err != nil || cfg.Requests != 100_000 || cfg.NaiveN != 5_000 || cfg.Runs != 2 {
		t.Errorf("-quick: %+v, %v", cfg, err)
	}

	// Flags given explicitly win over -quick, whatever the order.
	cfg, err = parseFlags([]string{"-runs", "5", "-quick", "-variants", "naive-none, python"})
	if err != nil || cfg.Runs != 5 || cfg.Requests != 100_000 || !slices.Equal(cfg.Variants, []string{"naive-none", "python"}) {
		t.Errorf("-runs 5 -quick: %+v, %v", cfg, err)
	}

	cfg, err = parseFlags([]string{"-n", "100", "-naive-n", "500"})
	if err != nil || cfg.NaiveN != 100 {
		t.Errorf("-naive-n above -n: NaiveN = %d, %v; want 100", cfg.NaiveN, err)
	}

	for _, bad := range [][]string{{"-variants", "node"}, {"-variants", ","}, {"-runs", "0"}, {"extra"}} {
		if _, err := parseFlags(bad); err == nil {
			t.Errorf("parseFlags(%q) succeeded", bad)
		}
	}
}

func TestIsModule(t *testing.T) {
	if !isModule([]byte("// comment\nmodule "+modulePath+"\n\ngo 1.26\n"), modulePath) {
		t.Error("did not recognise our go.mod")
	}
	if isModule([]byte("module "+modulePath+"2\n"), modulePath) {
		t.Error("took a longer module path for ours")
	}
}

// TestExpectedDurations checks that every section, and the disk probe, has
// the durations its progress line announces.
func TestExpectedDurations(t *testing.T) {
	for _, sec := range append(allSections, stepDisk) {
		if d := expected[sec]; d[0] <= 0 || d[1] <= 0 || d[1] > d[0] {
			t.Errorf("section %s: expected durations %v (full, quick)", sec, d)
		}
	}
	full, _ := parseFlags(nil)
	quick, _ := parseFlags([]string{"-quick"})
	if f, q := expectedTotal(full), expectedTotal(quick); q >= f || q > time.Minute {
		t.Errorf("expected totals: full %v, quick %v", f, q)
	}
}
