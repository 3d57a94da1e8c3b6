package schemas

// MaxRequestBody is Django's DATA_UPLOAD_MAX_MEMORY_SIZE: Healthchecks reads no larger
// request body, for pings or API calls, unless its PING_BODY_LIMIT is larger still.
const MaxRequestBody = 2621440

// MaxNameLength is the longest check name or slug: Healthchecks' columns hold 100
// characters. A slug pinged with ?create=1 becomes both.
const MaxNameLength = 100

// MaxTagsLength is the longest tags string: Healthchecks' column holds 500 characters.
const MaxTagsLength = 500

// RequestBodyCap is the largest request body read, for pings and API calls alike, when
// ping bodies are kept up to bodyLimit bytes: Healthchecks' settings raise Django's cap
// to PING_BODY_LIMIT when that is larger.
func RequestBodyCap(bodyLimit int) int { return max(MaxRequestBody, bodyLimit) }

// MaxEventBytes bounds an encoded event made from one request when ping bodies are kept
// up to bodyLimit bytes: the body, or a check's fields decoded from an API call's JSON
// (never longer than the JSON), plus the envelope, a user agent and the like. The
// topics carrying events must take records this large.
func MaxEventBytes(bodyLimit int) int { return RequestBodyCap(bodyLimit) + 64<<10 }
