// Package errorpage writes Django's default error pages. Healthchecks has no templates
// of its own for them, so a route miss, a raised Http404 or an oversized body answers
// with Django's page, and both the ping handler and the API answer with the same bytes
// here.
package errorpage

import (
	"io"
	"net/http"
)

// page is Django's ERROR_PAGE_TEMPLATE, leading newline included.
func page(title, details string) string {
	return "\n<!doctype html>\n<html lang=\"en\">\n<head>\n  <title>" + title + "</title>\n</head>\n<body>\n  <h1>" + title +
		"</h1><p>" + details + "</p>\n</body>\n</html>\n"
}

var (
	notFound   = page("Not Found", "The requested resource was not found on this server.")
	badRequest = page("Bad Request (400)", "")
)

// NotFound writes the 404 page and returns its status.
func NotFound(w http.ResponseWriter) int { return HTML(w, http.StatusNotFound, notFound) }

// BadRequest writes the 400 page Django answers a request it refuses before the view
// sees it (a body over its size limit), and returns its status.
func BadRequest(w http.ResponseWriter) int { return HTML(w, http.StatusBadRequest, badRequest) }

// HTML answers status with body as a plain Django HttpResponse does, whose content type
// is HTML whatever the body (an empty one included), and returns the status.
func HTML(w http.ResponseWriter, status int, body string) int {
	w.Header()["Content-Type"] = []string{"text/html; charset=utf-8"}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
	return status
}

// NotFoundHandler answers every request with the 404 page, for route misses.
var NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { NotFound(w) })
