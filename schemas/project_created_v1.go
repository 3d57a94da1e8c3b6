package schemas

// ProjectCreated v1: name, api key hash, read-only api key hash, ping key.
func init() {
	register(TypeProjectCreated, 1, bodyCodec{
		encode: func(w *writer, b Body) {
			p := b.(ProjectCreated)
			w.string(p.Name)
			w.string(p.APIKeyHash)
			w.string(p.APIKeyReadonlyHash)
			w.string(p.PingKey)
		},
		decode: func(r *reader) Body {
			return ProjectCreated{
				Name:               r.string(),
				APIKeyHash:         r.string(),
				APIKeyReadonlyHash: r.string(),
				PingKey:            r.string(),
			}
		},
	})
}
