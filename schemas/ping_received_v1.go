package schemas

// PingReceived v1: kind, exit status, has-rid flag, rid (16 bytes, only when present),
// method, scheme, remote address, user agent, body.
func init() {
	register(TypePingReceived, 1, bodyCodec{
		encode: func(w *writer, b Body) {
			p := b.(PingReceived)
			w.byte(byte(p.Kind))
			w.byte(p.ExitStatus)
			w.bool(p.HasRunID)
			if p.HasRunID {
				w.id(p.RunID)
			}
			w.string(p.Method)
			w.string(p.Scheme)
			w.string(p.RemoteAddr)
			w.string(p.UserAgent)
			w.bytes(p.Body)
		},
		decode: func(r *reader) Body {
			p := PingReceived{Kind: PingKind(r.byte()), ExitStatus: r.byte(), HasRunID: r.bool()}
			if p.Kind > PingExitStatus {
				r.fail("unknown ping kind %d", p.Kind)
			}
			if p.HasRunID {
				p.RunID = r.id()
			}
			p.Method = r.string()
			p.Scheme = r.string()
			p.RemoteAddr = r.string()
			p.UserAgent = r.string()
			p.Body = r.bytes()
			return p
		},
	})
}
