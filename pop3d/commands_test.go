package pop3d

import (
	"slices"
	"testing"
)

func TestParseCommand(t *testing.T) {
	t.Parallel()
	tests := []struct {
		line    string
		verb    string
		args    []string
		wantErr string
	}{
		{line: "STAT", verb: "STAT"},
		{line: "stat", verb: "STAT"},
		{line: "LiSt 3", verb: "LIST", args: []string{"3"}},
		{line: "TOP 1 0", verb: "TOP", args: []string{"1", "0"}},
		{line: "TOP  1   0 ", verb: "TOP", args: []string{"1", "0"}},
		{line: "USER anna@example.org", verb: "USER", args: []string{"anna@example.org"}},
		{line: "PASS secret with  spaces ", verb: "PASS", args: []string{"secret with  spaces "}},
		{line: "PASS", verb: "PASS"},
		{line: "AUTH PLAIN AGFubmEAc2VjcmV0", verb: "AUTH", args: []string{"PLAIN", "AGFubmEAc2VjcmV0"}},
		{line: "CAPA", verb: "CAPA"},
		{line: "", wantErr: "Empty command"},
		{line: " STAT", wantErr: "Empty command"},
		{line: "STATUS", wantErr: "Unknown command"},
		{line: "R3TR 1", wantErr: "Unknown command"},
		{line: "RETR 1\x00", wantErr: "Invalid characters in command"},
		{line: "\x16\x03\x01\x02", wantErr: "Invalid characters in command"},
		{line: "PASS a\tb", wantErr: "Invalid characters in command"},
		{line: "DELE 1\x7f", wantErr: "Invalid characters in command"},
		{line: "PASS pässwörd", verb: "PASS", args: []string{"pässwörd"}},
	}
	for _, tt := range tests {
		cmd, err := parseCommand([]byte(tt.line))
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("parseCommand(%q) error = %v, want %q", tt.line, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseCommand(%q) = %v", tt.line, err)
			continue
		}
		if cmd.verb != tt.verb || !slices.Equal(cmd.args, tt.args) {
			t.Errorf("parseCommand(%q) = %q %q, want %q %q", tt.line, cmd.verb, cmd.args, tt.verb, tt.args)
		}
	}
}

func TestDecodePlain(t *testing.T) {
	t.Parallel()
	tests := []struct {
		resp, user, pass, wantErr string
	}{
		{resp: "AGFubmFAZXhhbXBsZS5vcmcAc2VjcmV0", user: "anna@example.org", pass: "secret"},                         // "\0anna@example.org\0secret"
		{resp: "YW5uYUBleGFtcGxlLm9yZwBhbm5hQGV4YW1wbGUub3JnAHNlY3JldA==", user: "anna@example.org", pass: "secret"}, // authz = authc
		{resp: "Ym9iQGV4YW1wbGUub3JnAGFubmFAZXhhbXBsZS5vcmcAc2VjcmV0", wantErr: "[AUTH] Authentication failed"},      // authz bob
		{resp: "=", wantErr: "Invalid PLAIN authentication response"},
		{resp: "not base64!", wantErr: "Invalid base64 in authentication response"},
		{resp: "YQBi", wantErr: "Invalid PLAIN authentication response"}, // "a\0b"
	}
	for _, tt := range tests {
		user, pass, err := decodePlain(tt.resp)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("decodePlain(%q) error = %v, want %q", tt.resp, err, tt.wantErr)
			}
			continue
		}
		if err != nil || user != tt.user || pass != tt.pass {
			t.Errorf("decodePlain(%q) = %q, %q, %v; want %q, %q", tt.resp, user, pass, err, tt.user, tt.pass)
		}
	}
}

func TestVerbTableStates(t *testing.T) {
	t.Parallel()
	// RFC 1939 §3-§7: which verbs each state accepts.
	auth := []string{"AUTH", "CAPA", "PASS", "QUIT", "STLS", "USER"}
	trans := []string{"CAPA", "DELE", "LIST", "NOOP", "QUIT", "RETR", "RSET", "STAT", "TOP", "UIDL"}
	var gotAuth, gotTrans []string
	for name, v := range verbs {
		if v.states.has(stateAuthorization) {
			gotAuth = append(gotAuth, name)
		}
		if v.states.has(stateTransaction) {
			gotTrans = append(gotTrans, name)
		}
	}
	slices.Sort(gotAuth)
	slices.Sort(gotTrans)
	if !slices.Equal(gotAuth, auth) || !slices.Equal(gotTrans, trans) {
		t.Fatalf("AUTHORIZATION verbs %v, want %v; TRANSACTION verbs %v, want %v", gotAuth, auth, gotTrans, trans)
	}
}
