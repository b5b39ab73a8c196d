package resolver

import "testing"

func TestFlavorFromOSRelease(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"debian", "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_CODENAME=bookworm\nID=debian\n", "bookworm"},
		{"single quotes", "VERSION_CODENAME='jammy'\n", "jammy"},
		{"double quotes", "ID=ubuntu\nVERSION_CODENAME=\"noble\"\n", "noble"},
		{"indented, CRLF", "ID=ubuntu\r\n  VERSION_CODENAME=focal \r\n", "focal"},
		{"first wins", "VERSION_CODENAME=trixie\nVERSION_CODENAME=bookworm\n", "trixie"},
		{"alpine", "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.20.3\n", ""},
		{"similar key", "UBUNTU_CODENAME=noble\nXVERSION_CODENAME=x\n", ""},
		{"empty", "", ""},
	} {
		if got := FlavorFromOSRelease([]byte(tc.in)); got != tc.want {
			t.Errorf("%s: FlavorFromOSRelease(%q) = %q, want %q", tc.name, tc.in, got, tc.want)
		}
	}
}
