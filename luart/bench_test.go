package luart

import (
	"context"
	"testing"
)

// BenchmarkPercent is one int.percent check including the value bridge.
func BenchmarkPercent(b *testing.B) {
	rt := New(ValidatorLimits)
	s := mustCompile(b, "int.percent", percentBody)
	ctx := context.Background()
	vars := []Var{{"value", int64(12)}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := rt.Call(ctx, s, vars, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkToString is the float.str codec's encoder.
func BenchmarkToString(b *testing.B) {
	rt := New(ValidatorLimits)
	s := mustCompile(b, "float.str", "return tostring(value)")
	ctx := context.Background()
	vars := []Var{{"value", 13.25}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := rt.Call(ctx, s, vars, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPercentParallel(b *testing.B) {
	rt := New(ValidatorLimits)
	s := mustCompile(b, "int.percent", percentBody)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		vars := []Var{{"value", int64(12)}}
		for pb.Next() {
			if _, err := rt.Call(ctx, s, vars, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}
