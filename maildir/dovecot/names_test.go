package dovecot

import "testing"

func TestUTF7(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ utf8, utf7 string }{
		{"INBOX", "INBOX"},
		{"a&b", "a&-b"},
		{"Entwürfe", "Entw&APw-rfe"},
		{"日本語", "&ZeVnLIqe-"},
		{"~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"},
	} {
		if got := encodeUTF7(tc.utf8); got != tc.utf7 {
			t.Errorf("encode %q = %q, want %q", tc.utf8, got, tc.utf7)
		}
		if got, err := decodeUTF7(tc.utf7); err != nil || got != tc.utf8 {
			t.Errorf("decode %q = %q, %v", tc.utf7, got, err)
		}
	}
	for _, bad := range []string{"&", "&Jjo", "&AGE-", "a\x01"} {
		if _, err := decodeUTF7(bad); err == nil {
			t.Errorf("decode %q accepted", bad)
		}
	}
}

func TestCheckName(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"", "a//b", "/a", "a/", ".", "a/..", "a.b", "x\x01", string(make([]byte, 256))} {
		if _, err := CheckName(bad); err == nil {
			t.Errorf("CheckName(%q) accepted", bad)
		}
	}
	if n, err := CheckName("inbox/Sub"); err != nil || n != "INBOX/Sub" {
		t.Errorf("CheckName(inbox/Sub) = %q, %v", n, err)
	}
	if d := DirName("Archive/Entwürfe"); d != ".Archive.Entw&APw-rfe" {
		t.Errorf("DirName = %q", d)
	}
}
