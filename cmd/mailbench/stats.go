package main

import (
	"sort"
	"time"
)

// Summary describes a set of latency samples and the throughput of the run
// they came from.
type Summary struct {
	Count   int     `json:"count"`
	Errors  int     `json:"errors"`
	Seconds float64 `json:"seconds"`
	PerSec  float64 `json:"per_sec"`
	P50ms   float64 `json:"p50_ms"`
	P90ms   float64 `json:"p90_ms"`
	P99ms   float64 `json:"p99_ms"`
	MaxMs   float64 `json:"max_ms"`
}

// Summarize computes count, rate and latency percentiles. elapsed is the
// wall time of the whole run.
func Summarize(samples []time.Duration, errors int, elapsed time.Duration) Summary {
	s := Summary{Count: len(samples), Errors: errors, Seconds: elapsed.Seconds()}
	if elapsed > 0 {
		s.PerSec = float64(len(samples)) / elapsed.Seconds()
	}
	if len(samples) == 0 {
		return s
	}
	d := append([]time.Duration(nil), samples...)
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	ms := func(x time.Duration) float64 { return float64(x) / float64(time.Millisecond) }
	s.P50ms = ms(Percentile(d, 50))
	s.P90ms = ms(Percentile(d, 90))
	s.P99ms = ms(Percentile(d, 99))
	s.MaxMs = ms(d[len(d)-1])
	return s
}

// Percentile returns the p-th percentile (nearest rank) of sorted samples.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(p/100*float64(len(sorted))+0.5) - 1
	if rank < 0 {
		rank = 0
	}
	if rank >= len(sorted) {
		rank = len(sorted) - 1
	}
	return sorted[rank]
}

// Median returns the median of values (the mean of the two middle ones for
// an even count). Used to summarise repeated runs.
func Median(values []float64) float64 {
	if len(values) == 0 {
		return 0
	}
	v := append([]float64(nil), values...)
	sort.Float64s(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}
