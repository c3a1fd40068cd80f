// Package queue is Postern's outbound mail spool: it accepts submitted
// messages for remote recipients durably, signs them with DKIM, and
// delivers them by MX (or through a smarthost), retrying temporary
// failures and returning RFC 3464 delivery status notifications for
// permanent ones.
//
// # Implementation notes
//
// On disk the queue is one directory, <data>/queue. Every message is two
// files: <id>.msg (the signed message, CRLF line ends, exactly as sent) and
// <id>.json (the envelope and the state of every recipient). Both are
// written with postern/maildir/durable; the .msg file is written before the
// .json file, so a .json file always has its message, and a .msg file
// without a .json file belongs to a submission that was never answered
// and is removed at start. The operator's commands ("postern queue flush",
// "postern queue drop") drop request files into <data>/queue/control,
// which the running queue picks up within ControlPoll.
//
// In memory the queue holds only a min-heap of (next attempt, id) pairs
// and the set of ids being worked on: message bodies are streamed from
// disk at delivery time, so memory does not grow with the queue's bodies.
//
// Invariants:
//   - one message is worked on by at most one worker at a time (inFlight);
//   - a recipient's state is written durably after every attempt, before
//     the message is rescheduled or removed;
//   - a bounce is generated at most once per message (the envelope's
//     Bounced flag is written before the files are removed), and never
//     for a message with the null sender.
package queue
