package api

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/orbit-ci/orbit/shared/accounts"
)

// The UI is server-rendered with html/template (which escapes everything it
// prints). Every page works without JavaScript; the script bundle
// (static/*.js) adds live updates, streaming output and confirmations.
// The Content-Security-Policy allows scripts and styles from Orbit's own
// origin only: no inline script, no inline style, no other site.
//
// Files:
//
//	templates/layout.html      the frame of every page (header, navigation, main landmark)
//	templates/<page>.html      one page each, defining "content"; its name is the page's
//	templates/parts/*.html     partial templates every page may call
//	static/*.css, static/*.js  concatenated in name order into one stylesheet and one
//	                           script, served at /ui/static/orbit.<hash>.{css,js}
//
// A page is a pageFunc returning the page's name and a pointer to its data,
// a struct that embeds uiBase; html() fills the base (the signed-in user,
// the CSRF token for forms, the notice of the last action). A form posts to
// an action (action()), which does the work and redirects back (303).

//go:embed templates
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

const (
	// refreshSeconds is the live-update period of pages with unfinished
	// work (a script re-fetches the page; without script, a meta refresh).
	refreshSeconds = 2
	// uiOutputLimit bounds the output shown per step; the raw output link
	// has all of it.
	uiOutputLimit = 256 << 10
	// uiCSP: scripts, styles and fetches from Orbit's origin only, images
	// also as data: URLs (server-rendered SVG charts are inline elements).
	uiCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
		"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
	// noticeCookie carries an action's notice to the page it redirects to.
	noticeCookie = "orbit_notice"
	// maxFormBytes bounds a form post.
	maxFormBytes = 1 << 20
)

// uiBase is what every page's data embeds: the layout reads it.
type uiBase struct {
	Title string
	// Refresh > 0: the page shows unfinished work and updates itself every
	// Refresh seconds (its data-live regions).
	Refresh int
	// Nav names the active navigation entry ("dashboard", "projects",
	// "insights", "contexts", "admin", "account").
	Nav string
	// User is the signed-in user; nil on the sign-in and error pages of
	// anonymous callers.
	User *uiUser
	// CSRF is the session's CSRF token, which every form carries ({{csrf .}}).
	CSRF string
	// Notice reports the last action's outcome.
	Notice string
}

func (b *uiBase) base() *uiBase { return b }

type uiUser struct {
	ID, Login, Name string
	Admin           bool
}

// uiPage is the data of any page.
type uiPage interface{ base() *uiBase }

// uiTemplates holds one template set per page (each with the layout and
// the partials) and the asset bundles.
type uiTemplates struct {
	pages  map[string]*template.Template
	assets map[string]asset // by URL path
	// assetURL is the bundle's URL by kind ("css", "js").
	assetURL map[string]string
}

type asset struct {
	contentType string
	body        []byte
}

var uiFuncs = template.FuncMap{
	"badge": badgeClass,
	"when":  formatTime,
	"short": shortSHA,
	// subject is a commit subject clipped for a listing (clipSubject).
	"subject": clipSubject,
	// warning tells a config warning (what CircleCI tolerates) from an
	// error in a pipeline's errors list (conductor.recordWarnings).
	"warning": func(msg string) bool { return strings.Contains(msg, ": warning: ") },
	// csrf is a form's hidden CSRF field: {{csrf $}} (any page data).
	"csrf": func(p uiPage) template.HTML {
		return template.HTML(`<input type="hidden" name="` + csrfField + `" value="` +
			template.HTMLEscapeString(p.base().CSRF) + `">`)
	},
	// pathEscape escapes one path segment (a branch name in a link).
	"pathEscape": url.PathEscape,
	// query builds a query string from key/value pairs, skipping empty values.
	"query": func(kv ...string) string {
		q := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] != "" {
				q.Set(kv[i], kv[i+1])
			}
		}
		if len(q) == 0 {
			return ""
		}
		return "?" + q.Encode()
	},
}

func parseTemplates() (*uiTemplates, error) {
	t := &uiTemplates{pages: map[string]*template.Template{}, assets: map[string]asset{}, assetURL: map[string]string{}}
	if err := t.bundle("css", "text/css; charset=utf-8"); err != nil {
		return nil, err
	}
	if err := t.bundle("js", "text/javascript; charset=utf-8"); err != nil {
		return nil, err
	}
	funcs := template.FuncMap{"asset": func(kind string) string { return t.assetURL[kind] }}
	for k, v := range uiFuncs {
		funcs[k] = v
	}
	parts, err := fs.Glob(templateFS, "templates/parts/*.html")
	if err != nil {
		return nil, err
	}
	pages, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, file := range pages {
		name := strings.TrimSuffix(path.Base(file), ".html")
		if name == "layout" {
			continue
		}
		files := append([]string{"templates/layout.html", file}, parts...)
		tpl, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, files...)
		if err != nil {
			return nil, fmt.Errorf("api: parse template %s: %w", name, err)
		}
		t.pages[name] = tpl
	}
	return t, nil
}

// bundle concatenates static/*.<kind> in name order into one asset whose
// URL carries its hash, so it can be cached for good.
func (t *uiTemplates) bundle(kind, contentType string) error {
	files, err := fs.Glob(staticFS, "static/*."+kind)
	if err != nil {
		return err
	}
	slices.Sort(files)
	var buf bytes.Buffer
	for _, f := range files {
		b, err := staticFS.ReadFile(f)
		if err != nil {
			return err
		}
		fmt.Fprintf(&buf, "/* %s */\n", path.Base(f))
		buf.Write(b)
		buf.WriteByte('\n')
	}
	sum := sha256.Sum256(buf.Bytes())
	p := "/ui/static/orbit." + hex.EncodeToString(sum[:6]) + "." + kind
	t.assets[p] = asset{contentType: contentType, body: buf.Bytes()}
	t.assetURL[kind] = p
	return nil
}

// serveAsset serves a bundle; its URL changes with its content.
func (s *server) serveAsset(w http.ResponseWriter, r *http.Request) {
	a, ok := s.ui.assets[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", a.contentType)
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	_, _ = w.Write(a.body)
}

// pageFunc builds a page: the template to render and its data.
type pageFunc func(r *http.Request) (page string, data uiPage, err error)

// html adapts a pageFunc to http.Handler. The page is rendered to a buffer
// first so a template error still becomes a clean 500.
func (s *server) html(fn pageFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		page, data, err := fn(r)
		var buf bytes.Buffer
		if err == nil {
			s.fillBase(w, r, data.base())
			err = s.ui.pages[page].Execute(&buf, data)
		}
		if err != nil {
			s.htmlError(w, r, err)
			return
		}
		writeHTML(w, http.StatusOK, buf.Bytes())
	})
}

// fillBase sets what the layout needs from the request.
func (s *server) fillBase(w http.ResponseWriter, r *http.Request, b *uiBase) {
	if u, ok := accounts.FromContext(r.Context()); ok {
		b.User = &uiUser{ID: u.ID, Login: u.Login, Name: u.Name, Admin: u.IsAdmin()}
	} else if u, _, err := s.caller(r); err == nil {
		b.User = &uiUser{ID: u.ID, Login: u.Login, Name: u.Name, Admin: u.IsAdmin()} // a public page
	}
	if c, err := r.Cookie(SessionCookie); err == nil && b.User != nil {
		b.CSRF = s.cfg.Accounts.CSRFToken(c.Value)
	}
	if c, err := r.Cookie(noticeCookie); err == nil {
		if n, err := url.QueryUnescape(c.Value); err == nil {
			b.Notice = n
		}
		http.SetCookie(w, &http.Cookie{Name: noticeCookie, Path: "/", MaxAge: -1})
	}
}

// actionFunc does a form's work and says where the browser goes next and
// what the page there reports.
type actionFunc func(r *http.Request) (next, notice string, err error)

// action adapts an actionFunc to http.Handler: a form post (CSRF-checked
// by the route's rule) that redirects with 303 on success and shows the
// error page otherwise. next must be a path on this site.
func (s *server) action(fn actionFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if err := r.ParseForm(); err != nil {
			s.htmlError(w, r, badRequest("the form could not be read: %v", err))
			return
		}
		next, notice, err := fn(r)
		if err != nil {
			s.htmlError(w, r, err)
			return
		}
		if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") {
			next = "/"
		}
		if notice != "" {
			http.SetCookie(w, &http.Cookie{Name: noticeCookie, Value: url.QueryEscape(notice), Path: "/",
				MaxAge: 60, HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil})
		}
		http.Redirect(w, r, next, http.StatusSeeOther)
	})
}

// htmlError answers a page's error as an HTML page.
func (s *server) htmlError(w http.ResponseWriter, r *http.Request, err error) {
	code, msg := s.classifyAndLog(r, err)
	data := &errorPage{uiBase: uiBase{Title: http.StatusText(code)}, Code: code, Message: msg, RequestID: RequestID(r.Context())}
	s.fillBase(w, r, &data.uiBase)
	var buf bytes.Buffer
	if err := s.ui.pages["error"].Execute(&buf, data); err != nil {
		s.log.ErrorContext(r.Context(), "render error page", "request_id", data.RequestID, "error", err)
		http.Error(w, msg, code)
		return
	}
	writeHTML(w, code, buf.Bytes())
}

func writeHTML(w http.ResponseWriter, code int, body []byte) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", uiCSP)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

type errorPage struct {
	uiBase
	Code      int
	Message   string
	RequestID string
}

// badgeClass colours a status the way CircleCI does.
func badgeClass(s string) string {
	switch s {
	case "success", "created":
		return "ok"
	case "failed", "failing", "error", "errored", "infrastructure_fail", "timedout", "unauthorized":
		return "bad"
	case "running", "queued", "pending", "setup-pending", "setup":
		return "run"
	case "on_hold":
		return "hold"
	}
	return "idle" // blocked, canceled, not_run
}

func formatTime(v any) string {
	switch t := v.(type) {
	case time.Time:
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	case *time.Time:
		if t == nil {
			return ""
		}
		return formatTime(*t)
	}
	return ""
}

func shortSHA(s string) string {
	if len(s) > 8 {
		return s[:8]
	}
	return s
}

// formatDuration prints a run time like CircleCI ("1m 05s", "3s", "420ms").
func formatDuration(start, stop *time.Time) string {
	if start == nil || stop == nil {
		return ""
	}
	d := stop.Sub(*start)
	switch {
	case d < time.Second:
		return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	}
	return fmt.Sprintf("%dm %02ds", int(d.Minutes()), int(d.Seconds())%60)
}
