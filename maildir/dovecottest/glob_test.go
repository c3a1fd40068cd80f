package dovecottest_test

import "path/filepath"

// filepathGlob counts the message files in a Maildir's new/ and cur/.
func filepathGlob(maildir string) (int, error) {
	n := 0
	for _, sub := range []string{"new", "cur"} {
		m, err := filepath.Glob(filepath.Join(maildir, sub, "*"))
		if err != nil {
			return 0, err
		}
		n += len(m)
	}
	return n, nil
}
