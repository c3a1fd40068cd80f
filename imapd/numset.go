package imapd

import (
	"slices"
	"sort"

	imap "github.com/emersion/go-imap/v2"
)

// Sequence and UID sets from clients can have thousands of ranges (a
// client that lists every other UID; the library's 50 KiB command line
// allows about 9,000 distinct ones). Scanning every range for every
// message would cost ranges × messages; a rangeIndex costs a binary
// search per message.

// rangeIndex is a sequence or UID set with "*" resolved, its ranges
// ordered and merged.
type rangeIndex []numRange

type numRange struct{ lo, hi uint32 }

// smallSetRanges is the size up to which scanning a set beats indexing
// it.
const smallSetRanges = 8

// indexSeqSet indexes set, "*" standing for max.
func indexSeqSet(set imap.SeqSet, max uint32) rangeIndex {
	x := make(rangeIndex, 0, len(set))
	for _, r := range set {
		x = append(x, resolveRange(r.Start, r.Stop, max))
	}
	return x.normalize()
}

// indexUIDSet indexes set, "*" standing for max.
func indexUIDSet(set imap.UIDSet, max imap.UID) rangeIndex {
	x := make(rangeIndex, 0, len(set))
	for _, r := range set {
		x = append(x, resolveRange(uint32(r.Start), uint32(r.Stop), uint32(max)))
	}
	return x.normalize()
}

// resolveRange applies inRange's rules: an end of 0 ("*") is max, and
// the ends may come in either order.
func resolveRange(lo, hi, max uint32) numRange {
	if lo == 0 {
		lo = max
	}
	if hi == 0 {
		hi = max
	}
	if lo > hi {
		lo, hi = hi, lo
	}
	return numRange{lo, hi}
}

func (x rangeIndex) normalize() rangeIndex {
	slices.SortFunc(x, func(a, b numRange) int {
		switch {
		case a.lo < b.lo:
			return -1
		case a.lo > b.lo:
			return 1
		}
		return 0
	})
	out := x[:0]
	for _, r := range x {
		if n := len(out); n > 0 && uint64(r.lo) <= uint64(out[n-1].hi)+1 {
			out[n-1].hi = max(out[n-1].hi, r.hi)
			continue
		}
		out = append(out, r)
	}
	return out
}

// has reports whether n is in the set.
func (x rangeIndex) has(n uint32) bool {
	i := sort.Search(len(x), func(i int) bool { return x[i].hi >= n })
	return i < len(x) && x[i].lo <= n
}

// indexSets indexes the large sequence and UID sets of a search program
// (at any depth) into b.sets, keyed by their first range. c has passed
// checkSearchProgram, so the walk is shallow.
func (b *searchBounds) indexSets(c *imap.SearchCriteria) {
	for _, set := range c.SeqNum {
		if len(set) > smallSetRanges {
			b.index()[&set[0]] = indexSeqSet(set, b.MaxSeq)
		}
	}
	for _, set := range c.UID {
		if len(set) > smallSetRanges {
			b.index()[&set[0]] = indexUIDSet(set, b.MaxUID)
		}
	}
	for i := range c.Not {
		b.indexSets(&c.Not[i])
	}
	for i := range c.Or {
		b.indexSets(&c.Or[i][0])
		b.indexSets(&c.Or[i][1])
	}
}

func (b *searchBounds) index() map[any]rangeIndex {
	if b.sets == nil {
		b.sets = make(map[any]rangeIndex)
	}
	return b.sets
}

// seqHas reports whether the message numbered n is in set.
func (b *searchBounds) seqHas(set imap.SeqSet, n uint32) bool {
	if len(set) > smallSetRanges {
		if x, ok := b.sets[&set[0]]; ok {
			return x.has(n)
		}
	}
	return seqSetHas(set, n, b.MaxSeq)
}

// uidHas reports whether the message with UID u is in set.
func (b *searchBounds) uidHas(set imap.UIDSet, u imap.UID) bool {
	if len(set) > smallSetRanges {
		if x, ok := b.sets[&set[0]]; ok {
			return x.has(uint32(u))
		}
	}
	return uidSetHas(set, u, b.MaxUID)
}
