package schemas

// StatusChanged v1: flip sequence, old status, new status, reason.
func init() {
	register(TypeStatusChanged, 1, bodyCodec{
		encode: func(w *writer, b Body) {
			s := b.(StatusChanged)
			w.uvarint(s.FlipSeq)
			w.byte(byte(s.Old))
			w.byte(byte(s.New))
			w.string(s.Reason)
		},
		decode: func(r *reader) Body {
			s := StatusChanged{FlipSeq: r.uvarint(), Old: Status(r.byte()), New: Status(r.byte()), Reason: r.string()}
			if s.Old > StatusPaused || s.New > StatusPaused {
				r.fail("unknown status %d -> %d", s.Old, s.New)
			}
			return s
		},
	})
}
