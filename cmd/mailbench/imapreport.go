package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

func init() {
	register(mode{
		name:    "imap-report",
		summary: "side-by-side table of imap and imap-idle result lines of Postern and a reference server, with ratios",
		run:     runIMAPReport,
	})
}

// imapReportSteps are the rows of the table, in order.
var imapReportSteps = []struct{ key, label string }{
	{"select", "SELECT INBOX"},
	{"select_held", "SELECT INBOX, another session in IDLE on it"},
	{"uid_flags", "UID FETCH 1:* (UID FLAGS)"},
	{"envelope_size", "UID FETCH 1:* (ENVELOPE RFC822.SIZE)"},
	{"body_peek", "UID FETCH 1:* BODY.PEEK[]"},
}

// imapSide is what one server's result file holds: the imap lines (one
// per run or per batch of runs) and at most one imap-idle line.
type imapSide struct {
	messages uint32
	samples  map[string][]float64
	cpu      map[string][]float64 // server CPU time, when measured
	idle     *imapIdleResult
}

// runIMAPReport reads two files of mailbench result lines, one per
// server, and prints a Markdown table: per step the median over every imap
// line of the file (each line's value is already the median of its runs),
// the ratio of the first server to the second, the same for the servers'
// CPU time when measured (-pid), and the memory per idle connection.
func runIMAPReport(args []string, out io.Writer) error {
	fs := newFlagSet("imap-report")
	a := fs.String("a", "", "result lines of the measured server (Postern)")
	b := fs.String("b", "", "result lines of the reference server (Dovecot)")
	aName := fs.String("a-name", "Postern", "column name of -a")
	bName := fs.String("b-name", "Dovecot", "column name of -b")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *a == "" || *b == "" {
		return errors.New("-a and -b are required")
	}
	sa, err := readIMAPSide(*a)
	if err != nil {
		return err
	}
	sb, err := readIMAPSide(*b)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "messages: %s %d, %s %d; runs: %s %d, %s %d\n\n", *aName, sa.messages, *bName, sb.messages,
		*aName, len(sa.samples["select"]), *bName, len(sb.samples["select"]))
	fmt.Fprintf(out, "| step | %s | %s | ratio | %s CPU | %s CPU | CPU ratio |\n|---|---|---|---|---|---|---|\n", *aName, *bName, *aName, *bName)
	for _, st := range imapReportSteps {
		va, oka := sa.samples[st.key]
		vb, okb := sb.samples[st.key]
		if !oka || !okb {
			continue
		}
		ma, mb := Median(va), Median(vb)
		cpu := "– | – | –"
		if ca, cb := sa.cpu[st.key], sb.cpu[st.key]; len(ca) > 0 && len(cb) > 0 {
			mca, mcb := Median(ca), Median(cb)
			cpu = fmt.Sprintf("%s ms | %s ms | %s", fmtMS(mca), fmtMS(mcb), fmtRatio(mca, mcb))
		}
		fmt.Fprintf(out, "| %s | %s ms | %s ms | %.2f | %s |\n", st.label, fmtMS(ma), fmtMS(mb), ma/mb, cpu)
	}
	if sa.idle != nil && sb.idle != nil {
		ia, ib := sa.idle, sb.idle
		fmt.Fprintf(out, "| memory per IDLE connection (%d TLS, Pss) | %.1f KiB | %.1f KiB | %.2f | – | – | – |\n",
			ia.Conns, ia.PssPerKiB, ib.PssPerKiB, ia.PssPerKiB/ib.PssPerKiB)
		fmt.Fprintf(out, "| memory per IDLE connection (%d TLS, RSS) | %.1f KiB | %.1f KiB | %.2f | – | – | – |\n",
			ia.Conns, ia.RSSPerKiB, ib.RSSPerKiB, ia.RSSPerKiB/ib.RSSPerKiB)
		fmt.Fprintf(out, "\nPss KiB per IDLE connection by process: %s: %s; %s: %s\n", *aName, byCommand(ia), *bName, byCommand(ib))
	}
	return nil
}

// byCommand lists the Pss growth per connection of each command name
// that grew by at least 1 KiB per connection, largest first.
func byCommand(r *imapIdleResult) string {
	type row struct {
		name string
		kib  float64
	}
	var rows []row
	for name, d := range r.Delta {
		if k := float64(d.PssKB) / float64(r.Conns); k >= 1 {
			rows = append(rows, row{name, k})
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].kib > rows[j].kib })
	parts := make([]string, len(rows))
	for i, x := range rows {
		parts[i] = fmt.Sprintf("%s %.1f", x.name, x.kib)
	}
	return strings.Join(parts, ", ")
}

// fmtRatio is a/b, or "–" when b is zero (a CPU time under the 10 ms
// resolution).
func fmtRatio(a, b float64) string {
	if b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", a/b)
}

// fmtMS prints milliseconds with three significant digits or more.
func fmtMS(ms float64) string {
	switch {
	case ms >= 100:
		return fmt.Sprintf("%.0f", ms)
	case ms >= 10:
		return fmt.Sprintf("%.1f", ms)
	default:
		return fmt.Sprintf("%.2f", ms)
	}
}

// readIMAPSide reads one server's result lines; other modes' lines are
// ignored.
func readIMAPSide(path string) (imapSide, error) {
	s := imapSide{samples: map[string][]float64{}, cpu: map[string][]float64{}}
	f, err := os.Open(path)
	if err != nil {
		return s, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(text, "{") {
			continue
		}
		var head struct{ Mode string }
		if err := json.Unmarshal([]byte(text), &head); err != nil {
			return s, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		switch head.Mode {
		case "imap":
			var r imapResult
			if err := json.Unmarshal([]byte(text), &r); err != nil {
				return s, fmt.Errorf("%s:%d: %w", path, line, err)
			}
			s.messages = r.Messages
			for k, v := range r.MedianMS {
				s.samples[k] = append(s.samples[k], v)
			}
			for k, v := range r.CPUMS {
				s.cpu[k] = append(s.cpu[k], v)
			}
		case "imap-idle":
			r := new(imapIdleResult)
			if err := json.Unmarshal([]byte(text), r); err != nil {
				return s, fmt.Errorf("%s:%d: %w", path, line, err)
			}
			s.idle = r
		}
	}
	if err := sc.Err(); err != nil {
		return s, fmt.Errorf("%s: %w", path, err)
	}
	if len(s.samples) == 0 {
		return s, fmt.Errorf("%s: no imap result lines", path)
	}
	return s, nil
}
