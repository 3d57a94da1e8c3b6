package schemas

// CheckCreated v1 and CheckUpdated v1 share the CheckConfig v1 layout: name, slug, tags,
// desc, kind, timeout s, grace s, schedule, tz, manual_resume, methods, start/success/failure
// keywords, the four filter flags, then the channel list (count + strings).
func init() {
	register(TypeCheckCreated, 1, bodyCodec{
		encode: func(w *writer, b Body) { encodeCheckConfigV1(w, b.(CheckCreated).Config) },
		decode: func(r *reader) Body { return CheckCreated{Config: decodeCheckConfigV1(r)} },
	})
	register(TypeCheckUpdated, 1, bodyCodec{
		encode: func(w *writer, b Body) { encodeCheckConfigV1(w, b.(CheckUpdated).Config) },
		decode: func(r *reader) Body { return CheckUpdated{Config: decodeCheckConfigV1(r)} },
	})
}

func encodeCheckConfigV1(w *writer, c CheckConfig) {
	w.string(c.Name)
	w.string(c.Slug)
	w.string(c.Tags)
	w.string(c.Desc)
	w.byte(byte(c.Kind))
	w.duration(c.Timeout)
	w.duration(c.Grace)
	w.string(c.Schedule)
	w.string(c.TZ)
	w.bool(c.ManualResume)
	w.string(c.Methods)
	w.string(c.StartKeywords)
	w.string(c.SuccessKeywords)
	w.string(c.FailureKeywords)
	w.bool(c.FilterSubject)
	w.bool(c.FilterBody)
	w.bool(c.FilterHTTPBody)
	w.bool(c.FilterDefaultFail)
	w.uvarint(uint64(len(c.Channels)))
	for _, ch := range c.Channels {
		w.string(ch)
	}
}

func decodeCheckConfigV1(r *reader) CheckConfig {
	c := CheckConfig{
		Name:              r.string(),
		Slug:              r.string(),
		Tags:              r.string(),
		Desc:              r.string(),
		Kind:              ScheduleKind(r.byte()),
		Timeout:           r.duration(),
		Grace:             r.duration(),
		Schedule:          r.string(),
		TZ:                r.string(),
		ManualResume:      r.bool(),
		Methods:           r.string(),
		StartKeywords:     r.string(),
		SuccessKeywords:   r.string(),
		FailureKeywords:   r.string(),
		FilterSubject:     r.bool(),
		FilterBody:        r.bool(),
		FilterHTTPBody:    r.bool(),
		FilterDefaultFail: r.bool(),
	}
	if c.Kind > KindOnCalendar {
		r.fail("unknown schedule kind %d", c.Kind)
	}
	n := r.uvarint()
	// Each channel takes at least one byte, which bounds the allocation by the record size.
	if n > uint64(len(r.buf)) {
		r.fail("channel count %d exceeds record", n)
		return c
	}
	for range n {
		c.Channels = append(c.Channels, r.string())
	}
	return c
}
