package query

import "testing"

// v1 and v2 derive a check's slug from its name with Django's slugify; the expected
// slugs are what Django gives.
func TestSlugify(t *testing.T) {
	for _, tt := range []struct{ name, want string }{
		{"Foo", "foo"},
		{"Nightly DB Backup!", "nightly-db-backup"},
		{"Café  --Backup_", "cafe-backup"}, // accents are decomposed, then the marks dropped
		{"Ñandú", "nandu"},
		{"ﬁle №5", "file-no5"}, // compatibility forms become their ASCII letters
		{"Ⅻ ²", "xii-2"},
		{"x\u00a0y", "x-y"}, // a no-break space decomposes to a space
		{"Straße", "strae"}, // ß has no ASCII decomposition, so it is dropped
		{"日本", ""},
		{"a\vb", "a-b"}, // Python's \s includes \v and \x1c to \x1f
		{"a\x1cb", "a-b"},
		{"a\x1fb", "a-b"},
		{"  a  b  ", "a-b"},
		{"_x_", "x"},
		{"a_-_b", "a_-_b"},
		{"-_-", ""},
	} {
		if got := slugify(tt.name); got != tt.want {
			t.Errorf("slugify(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}
