package schemas

// CheckCreated v2 and CheckUpdated v2 are the CheckConfig v1 layout followed by the
// failure and recovery thresholds (uvarints). Reading v1 leaves both at 0, which means 1.
func init() {
	register(TypeCheckCreated, 2, bodyCodec{
		encode: func(w *writer, b Body) { encodeCheckConfigV2(w, b.(CheckCreated).Config) },
		decode: func(r *reader) Body { return CheckCreated{Config: decodeCheckConfigV2(r)} },
	})
	register(TypeCheckUpdated, 2, bodyCodec{
		encode: func(w *writer, b Body) { encodeCheckConfigV2(w, b.(CheckUpdated).Config) },
		decode: func(r *reader) Body { return CheckUpdated{Config: decodeCheckConfigV2(r)} },
	})
}

func encodeCheckConfigV2(w *writer, c CheckConfig) {
	encodeCheckConfigV1(w, c)
	w.uvarint(uint64(c.FailureThreshold))
	w.uvarint(uint64(c.RecoveryThreshold))
}

func decodeCheckConfigV2(r *reader) CheckConfig {
	c := decodeCheckConfigV1(r)
	c.FailureThreshold = r.threshold("failure")
	c.RecoveryThreshold = r.threshold("recovery")
	return c
}

func (r *reader) threshold(name string) uint16 {
	n := r.uvarint()
	if n > MaxThreshold {
		r.fail("%s threshold %d exceeds %d", name, n, MaxThreshold)
		return 0
	}
	return uint16(n)
}
