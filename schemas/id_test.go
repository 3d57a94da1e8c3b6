package schemas

import "testing"

func TestGeneratedIDs(t *testing.T) {
	for range 100 {
		if id := NewID(); !id.Generated() {
			t.Fatalf("NewID %s is not Generated", id)
		}
	}
	if id := NameID([]byte("project"), []byte("nightly-backup")); !id.Generated() {
		t.Errorf("NameID %s is not Generated", id)
	}
	for _, s := range []string{
		"00000000-0000-0000-0000-000000000000",
		"039cfa85-59d7-182f-8830-70392a6ff3e5", // version 1
		"039cfa85-59d7-482f-c830-70392a6ff3e5", // Microsoft variant
	} {
		id, err := ParseID(s)
		if err != nil {
			t.Fatal(err)
		}
		if id.Generated() {
			t.Errorf("%s is Generated", s)
		}
	}
}
