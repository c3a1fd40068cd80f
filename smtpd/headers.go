package smtpd

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/mail"
	"strings"
	"time"

	"github.com/emersion/go-message/textproto"
)

// maxHeaderBytes bounds how much of a submitted message is read to find
// its header.
const maxHeaderBytes = 1 << 20

// submissionHeaders checks the header of a submitted message: its From:
// addresses must all be owned by the logged-in user. It returns the
// headers to add: From (the envelope sender) when there is none, Date and
// Message-ID when missing (RFC 6409 sections 8.2 and 8.3).
func (s *session) submissionHeaders(r io.Reader) (string, error) {
	h, err := readHeader(r)
	if err != nil {
		s.log.Info("message refused: malformed header", "err", err)
		return "", replyBadHeader
	}
	var added strings.Builder
	from, err := fromAddresses(h)
	if errors.Is(err, replyNoFrom) {
		// Scripts (curl, mail(1)) often send no From: the envelope
		// sender, already checked to be the user's, takes its place.
		fmt.Fprintf(&added, "From: <%s>\r\n", s.from)
		err = nil
	}
	if err != nil {
		s.log.Info("message refused: From header", "err", err)
		return "", err
	}
	for _, a := range from {
		if !s.srv.opts.Accounts.CanSendAs(s.user, a) {
			s.log.Info("message refused: From address not owned", "header_from", a)
			return "", replySenderNotOwned
		}
	}
	if !h.Has("Date") {
		fmt.Fprintf(&added, "Date: %s\r\n", time.Now().Format(time.RFC1123Z))
	}
	if !h.Has("Message-Id") {
		fmt.Fprintf(&added, "Message-ID: <%s@%s>\r\n", newID(), headerToken(s.srv.hostname))
	}
	return added.String(), nil
}

// readHeader parses the header block at the start of r. A message that is
// only a header (no blank line) is accepted.
func readHeader(r io.Reader) (textproto.Header, error) {
	h, err := textproto.ReadHeader(bufio.NewReader(io.LimitReader(r, maxHeaderBytes)))
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return h, err
	}
	return h, nil
}

// lenientWords decodes RFC 2047 display names without failing on unknown
// charsets: only the addresses matter here.
var lenientWords = &mime.WordDecoder{CharsetReader: func(_ string, input io.Reader) (io.Reader, error) {
	return input, nil
}}

// fromAddresses returns the addresses of the one From: header, or
// replyNoFrom / replyBadHeader.
func fromAddresses(h textproto.Header) ([]string, error) {
	vals := h.Values("From")
	if len(vals) == 0 {
		return nil, replyNoFrom
	}
	if len(vals) > 1 {
		return nil, replyBadHeader
	}
	v := strings.NewReplacer("\r\n", "", "\n", "").Replace(vals[0])
	list, err := (&mail.AddressParser{WordDecoder: lenientWords}).ParseList(v)
	if err != nil || len(list) == 0 {
		return nil, replyBadHeader
	}
	out := make([]string, len(list))
	for i, a := range list {
		out[i] = a.Address
	}
	return out, nil
}
