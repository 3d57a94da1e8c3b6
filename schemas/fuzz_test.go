package schemas

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzDecode feeds arbitrary records to Decode: it must never panic, and whatever it
// accepts must encode back to a record that decodes to the same event.
func FuzzDecode(f *testing.F) {
	bins, _ := filepath.Glob(filepath.Join("testdata", "*", "v*", "*.bin"))
	for _, bin := range bins {
		raw, err := os.ReadFile(bin)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, record []byte) {
		ev, err := Decode(record)
		if err != nil {
			return
		}
		again, err := Encode(ev)
		if err != nil {
			t.Fatalf("re-encoding an accepted record: %v", err)
		}
		back, err := Decode(again)
		if err != nil {
			t.Fatalf("decoding a re-encoded record: %v", err)
		}
		if diff := cmp.Diff(ev, back); diff != "" {
			t.Fatalf("re-encoded record differs (-first +second):\n%s", diff)
		}
	})
}

func BenchmarkEncodePingReceived(b *testing.B) {
	ev := goldenCases()["PingReceived/exitstatus"]
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		buf, err = AppendEncode(buf[:0], ev)
		if err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodePingReceived(b *testing.B) {
	raw, err := Encode(goldenCases()["PingReceived/exitstatus"])
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, err := Decode(raw); err != nil {
			b.Fatal(err)
		}
	}
}
