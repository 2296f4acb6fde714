package console

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strconv"
	"time"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFS embed.FS

// staticFiles serves the console's script and stylesheet.
func staticFiles() http.Handler {
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	return http.FileServerFS(sub)
}

// pages holds one template set per page, each with the layout.
type pages struct {
	byName map[string]*template.Template
}

// pageNames are the templates/*.html files that are pages; the others
// (layout.html, and the fragments they define) are shared.
var pageNames = []string{"overview", "events", "event", "confirm", "message", "sign-in"}

var funcs = template.FuncMap{
	"visible": visible,
	"age":     age,
	"count":   count,
	"ago":     func(now, t time.Time) string { return age(now.Sub(t)) },
	"trunc":   truncate,
	"time": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
}

func loadPages() (*pages, error) {
	p := &pages{byName: make(map[string]*template.Template)}
	for _, name := range pageNames {
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFiles, "templates/layout.html", "templates/fragments.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("console: template %s: %w", name, err)
		}
		p.byName[name] = t
	}
	return p, nil
}

// view is what every page's template gets.
type view struct {
	Title        string
	Prefix       string
	Name         string
	User         string
	CSRF         string
	AllowActions bool
	Refresh      int // seconds; 0 on pages that do not refresh
	Now          time.Time
	Flash        string
	// Page is the page's own data.
	Page any
}

// newView fills the fields every page shares.
func (c *console) newView(r *http.Request, title string, page any) *view {
	who := user(r)
	return &view{
		Title: title, Prefix: c.opts.Prefix, Name: c.opts.Name, User: who, CSRF: c.csrfToken(who),
		AllowActions: c.opts.AllowActions, Now: c.opts.Now(), Flash: flash(r), Page: page,
	}
}

// render writes page name with v, or an error page if it fails. The page
// is rendered into a buffer first, so a failure never sends half a page.
func (c *console) render(w http.ResponseWriter, r *http.Request, status int, name string, v *view) {
	c.renderTemplate(w, r, status, name, "layout", v)
}

func (c *console) renderTemplate(w http.ResponseWriter, r *http.Request, status int, page, tmpl string, v any) {
	var buf bytes.Buffer
	if err := c.pages.byName[page].ExecuteTemplate(&buf, tmpl, v); err != nil {
		c.log.Error("console: render page", "page", page, "err", err)
		http.Error(w, "500 Internal Server Error: the page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// fail answers with a page that says what went wrong.
func (c *console) fail(w http.ResponseWriter, r *http.Request, status int, msg string) {
	c.render(w, r, status, "message", c.newView(r, http.StatusText(status), msg))
}

// failErr answers 500 for an error of the store, logging it; the page says
// what could not be done, without the error's details.
func (c *console) failErr(w http.ResponseWriter, r *http.Request, what string, err error) {
	c.log.Error("console: "+what, "err", err, "user", user(r))
	c.fail(w, r, http.StatusInternalServerError, "Could not "+what+": the database did not answer as expected. The console's log has the error.")
}

// flashes are the messages an action leaves for the page it redirects
// to, by code, so that no text from a URL reaches the page.
var flashes = map[string]string{
	"retried":   "The event was retried: it is due now with a fresh set of attempts.",
	"discarded": "The event was discarded.",
	"paused":    "Delivery is paused.",
	"resumed":   "Delivery resumed.",
}

func flash(r *http.Request) string {
	q := r.URL.Query()
	if q.Get("done") == "bulk" {
		n, err := strconv.ParseInt(q.Get("n"), 10, 64)
		if err != nil {
			return ""
		}
		return "Retried " + count(n) + " event(s): they are due now."
	}
	return flashes[q.Get("done")]
}
