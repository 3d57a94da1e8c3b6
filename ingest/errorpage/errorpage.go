// Package errorpage writes Django's default error pages. Healthchecks has no templates
// of its own for them, so a route miss or a raised Http404 answers with Django's page,
// and both the ping handler and the API answer with the same bytes here.
package errorpage

import (
	"io"
	"net/http"
)

// notFound is Django's page, leading newline included.
const notFound = "\n<!doctype html>\n<html lang=\"en\">\n<head>\n  <title>Not Found</title>\n</head>\n<body>\n  <h1>Not Found</h1><p>The requested resource was not found on this server.</p>\n</body>\n</html>\n"

// NotFound writes the 404 page and returns its status.
func NotFound(w http.ResponseWriter) int {
	w.Header()["Content-Type"] = []string{"text/html; charset=utf-8"}
	w.WriteHeader(http.StatusNotFound)
	_, _ = io.WriteString(w, notFound)
	return http.StatusNotFound
}

// NotFoundHandler answers every request with the 404 page, for route misses.
var NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { NotFound(w) })
