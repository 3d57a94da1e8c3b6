package schemas

// CheckPaused, CheckResumed, CheckDeleted and ClockTicked v1 have empty bodies: the
// envelope says it all.
func init() {
	register(TypeCheckPaused, 1, bodyCodec{
		encode: func(*writer, Body) {},
		decode: func(*reader) Body { return CheckPaused{} },
	})
	register(TypeCheckResumed, 1, bodyCodec{
		encode: func(*writer, Body) {},
		decode: func(*reader) Body { return CheckResumed{} },
	})
	register(TypeClockTicked, 1, bodyCodec{
		encode: func(*writer, Body) {},
		decode: func(*reader) Body { return ClockTicked{} },
	})
	register(TypeCheckDeleted, 1, bodyCodec{
		encode: func(*writer, Body) {},
		decode: func(*reader) Body { return CheckDeleted{} },
	})
}
