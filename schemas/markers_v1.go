package schemas

// CheckPaused, CheckResumed and CheckDeleted v1 have empty bodies: the envelope says it all.
func init() {
	register(TypeCheckPaused, 1, bodyCodec{
		encode: func(*writer, Body) {},
		decode: func(*reader) Body { return CheckPaused{} },
	})
	register(TypeCheckResumed, 1, bodyCodec{
		encode: func(*writer, Body) {},
		decode: func(*reader) Body { return CheckResumed{} },
	})
	register(TypeCheckDeleted, 1, bodyCodec{
		encode: func(*writer, Body) {},
		decode: func(*reader) Body { return CheckDeleted{} },
	})
}
