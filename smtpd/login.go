package smtpd

import "github.com/emersion/go-sasl"

// maxLoginField bounds the user name and the password of AUTH LOGIN.
const maxLoginField = 1024

// loginServer is the server side of the LOGIN SASL mechanism
// (draft-murchison-sasl-login-00), which go-sasl lacks: challenge
// "Username:", then "Password:". An initial response is the user name.
type loginServer struct {
	step     int
	username string
	check    func(username, password string) error
}

func newLoginServer(check func(username, password string) error) sasl.Server {
	return &loginServer{check: check}
}

// Next implements sasl.Server.
func (l *loginServer) Next(response []byte) (challenge []byte, done bool, err error) {
	if len(response) > maxLoginField {
		return nil, true, replyLoginSyntax
	}
	switch l.step {
	case 0:
		if len(response) == 0 {
			l.step = 1
			return []byte("Username:"), false, nil
		}
		l.username = string(response)
		l.step = 2
		return []byte("Password:"), false, nil
	case 1:
		l.username = string(response)
		l.step = 2
		return []byte("Password:"), false, nil
	case 2:
		l.step = 3
		return nil, true, l.check(l.username, string(response))
	}
	return nil, true, replyLoginSyntax
}
