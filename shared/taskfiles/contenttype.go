package taskfiles

import (
	"mime"
	"strings"

	"github.com/orbit-ci/orbit/shared/blob"
)

// The seed's artifact content-type policy: only whitelisted types are
// served as themselves; markup and scripts are served as plain text, so an
// artifact can never run in the browser in Orbit's origin; everything else
// is a download. Responses carry X-Content-Type-Options: nosniff so
// browsers do not second-guess the type.
var (
	// safeTypes are served as stored.
	safeTypes = map[string]bool{
		"text/plain": true, "application/json": true,
		"image/png": true, "image/jpeg": true, "image/jpg": true, "image/gif": true, "image/bmp": true,
		"video/webm": true, "video/ogg": true, "video/mp4": true,
		"audio/webm": true, "audio/aac": true, "audio/mp4": true, "audio/mpeg": true, "audio/ogg": true,
		"audio/wav": true, "audio/wave": true, "audio/x-wav": true,
	}
	// plainTypes are served as text/plain.
	plainTypes = map[string]bool{
		"text/html": true, "text/css": true, "text/javascript": true, "text/ecmascript": true,
		"application/javascript": true, "application/ecmascript": true, "application/x-javascript": true,
		"text/xml": true, "application/xml": true, "application/xhtml+xml": true, "image/svg+xml": true,
	}
)

// ServedContentType is the Content-Type an artifact stored with the given
// type is served with, and whether it must be a download (Content-
// Disposition: attachment). allowUnsafe is the admin setting "serve
// artifacts with unsafe content types".
func ServedContentType(stored string, allowUnsafe bool) (contentType string, download bool) {
	mt, params, err := mime.ParseMediaType(stored)
	if err != nil {
		return "application/octet-stream", true
	}
	mt = strings.ToLower(mt)
	if allowUnsafe {
		return stored, false
	}
	switch {
	case plainTypes[mt]:
		return "text/plain; charset=utf-8", false
	case mt == "text/plain":
		cs := params["charset"]
		if cs == "" {
			cs = "utf-8"
		}
		return mime.FormatMediaType("text/plain", map[string]string{"charset": cs}), false
	case safeTypes[mt]:
		return mt, false
	}
	return "application/octet-stream", true
}

// ServedHeaders are the Content-Type and Content-Disposition an artifact at
// path (its API path), stored with the given type, is served with: the
// API's own answer and the overrides of its presigned URL
// (blob.Store.PresignGetWith), so the policy holds whichever serves the
// bytes. A download is "attachment" with the file's name, RFC 2231-encoded
// when it is not ASCII, so the value is always a valid header value.
func ServedHeaders(stored string, allowUnsafe bool, path string) blob.ResponseHeaders {
	ct, download := ServedContentType(stored, allowUnsafe)
	h := blob.ResponseHeaders{ContentType: ct}
	if download {
		name := path[strings.LastIndexByte(path, '/')+1:]
		h.ContentDisposition = mime.FormatMediaType("attachment", map[string]string{"filename": name})
		if h.ContentDisposition == "" { // a name mime cannot encode
			h.ContentDisposition = "attachment"
		}
	}
	return h
}
