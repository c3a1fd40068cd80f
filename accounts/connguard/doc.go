// Package connguard keeps one address, one network or one slow client
// from taking a listener away from everyone else. Every Postern front
// end (smtpd, imapd, pop3d) puts a Guard in front of its listeners.
//
// # What it limits
//
// Before a connection reaches the protocol code, and before TLS, the
// Guard counts it under its source address (an IPv4 address, an IPv6
// /64) and its network (an IPv4 /24, an IPv6 /48):
//
//   - MaxConnectionsPerIP and MaxConnectionsPerNetwork bound the
//     connections that have not logged in yet. A connection that logs in
//     (LoggedIn) leaves these counts: from then on the front end's
//     per-user limits apply, so a household behind one router can keep
//     as many logged-in sessions as its devices need, while a stranger
//     at the same address cannot open more than a few unauthenticated
//     ones. Port 25 never logs in, so there the limits hold for the whole
//     session.
//   - MaxConnections bounds all connections of the Guard, logged in or
//     not. Validate requires MaxConnectionsPerNetwork to be below it, so
//     one network can never take every slot: room is always left for
//     the others.
//
// A connection over a limit is answered with the front end's refusal
// line (plain listeners; an implicit-TLS listener has no plain text to
// answer in) and closed at once, in the accept loop, without reading from
// it. Each refusal is logged at WARN with the limit and the source
// ("connection refused" limit=per_ip source=192.0.2.7), at most one line
// per source and limit every RefusalLogInterval, the lines between
// counted in the next one's "suppressed" — one line per source per
// interval is what fail2ban needs.
//
// # Deadlines before login
//
// Until LoggedIn, every read deadline the protocol code sets is
// shortened to at most LoginCommandTimeout from now (the wait for each
// command) and to the connection's LoginLifetime (the time from accept by
// which it must have logged in); the first one is set at accept, so even
// a front end that sets none is bounded. During a TLS handshake, reads
// and writes are also bounded by TLSHandshakeTimeout: on implicit-TLS
// ports TLSListener performs the handshake itself, in the background,
// before the protocol code sees the connection (a stalled handshake
// holds no protocol slot); after STARTTLS or STLS, the Config returned by
// TLSConfig starts the bound when the ClientHello arrives, and the next
// read deadline the protocol code sets after the handshake ends it.
//
// # Layering
//
// Guard.Listener wraps the socket listener and hands out *Conn; the
// front end may wrap those in its own connection types, which must
// expose the connection below through a NetConn method (as *tls.Conn
// does) so that Of and LoggedIn can find the *Conn.
//
// # Compared with others
//
// Postfix's anvil limits connections and their rate per client address
// (smtpd_client_connection_count_limit, default 50); Dovecot limits
// logged-in sessions per user and address (mail_max_userip_connections)
// and closes unauthenticated clients after 3 minutes; mox limits
// connections per IP and per /64. connguard adds the per-network count
// and the reserve, so a flood spread over one network's addresses
// cannot fill the listener either.
package connguard
