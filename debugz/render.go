package debugz

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"time"
)

func writeJSON(w http.ResponseWriter, rep Report) {
	body, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		http.Error(w, "debugz: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Write(append(body, '\n'))
}

// htmlData is what the template renders.
type htmlData struct {
	Report
	Refresh int // seconds; 0 for none
}

func (p *Page) writeHTML(w http.ResponseWriter, rep Report) {
	d := htmlData{Report: rep}
	if p.refresh > 0 {
		d.Refresh = max(int(math.Round(p.refresh.Seconds())), 1)
	}
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, d); err != nil {
		http.Error(w, "debugz: "+err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	// The page runs no script and loads nothing: a string that escaped
	// escaping could not run either.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	w.Write(buf.Bytes())
}

var pageTemplate = template.Must(template.New("page").Funcs(template.FuncMap{
	"ts":      formatTime,
	"secs":    formatSeconds,
	"percent": func(f float64) string { return fmt.Sprintf("%.1f%%", 100*f) },
	"num":     func(f float64) string { return fmt.Sprintf("%.4g", f) },
	"until":   func(now time.Time, t *time.Time) string { return formatSeconds(t.Sub(now).Seconds()) },
	"columns": columnsOf,
}).Parse(pageHTML))

// columns says which optional endpoint columns a balancer has values for.
type columns struct{ ChildState, Weight, Cost, Ejected, Zone bool }

func columnsOf(b BalancerView) columns {
	var c columns
	for _, ep := range b.Endpoints {
		c.ChildState = c.ChildState || ep.ChildState != ""
		c.Weight = c.Weight || ep.Weight != 0
		c.Cost = c.Cost || ep.Cost != 0
		c.Ejected = c.Ejected || ep.EjectedUntil != nil
		c.Zone = c.Zone || ep.Zone != ""
	}
	return c
}

func formatTime(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return t.Format(time.RFC3339)
}

func formatSeconds(s float64) string {
	return (time.Duration(s * float64(time.Second))).Round(time.Millisecond).String()
}

const pageHTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
{{if .Refresh}}<meta http-equiv="refresh" content="{{.Refresh}}">{{end}}
<title>grpckit debug</title>
<style>
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.4em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ccc}h3{font-size:1em}
table{border-collapse:collapse;margin:.4em 0 1em}
th,td{border:1px solid #ddd;padding:.2em .6em;text-align:left;font-size:.9em;max-width:40em;overflow-wrap:anywhere}
th{background:#f3f3f3}
.READY,.closed{color:#176f2c}.TRANSIENT_FAILURE,.open,.stale,.err{color:#b00020;font-weight:bold}
.CONNECTING,.IDLE,.half-open{color:#8a6100}
.meta{color:#666;font-size:.85em}
</style>
</head>
<body>
<h1>grpckit debug</h1>
<p class="meta">Generated {{.GeneratedAt.Format "2006-01-02T15:04:05Z07:00"}}{{if .Refresh}}, reloads every {{.Refresh}}s{{end}}. JSON: <a href="?format=json">?format=json</a> (schema {{.Schema}}).</p>

<h2>Resolvers</h2>
{{range .Resolvers}}
<h3 id="resolver-{{.ID}}">{{.Target}} <span class="meta">resolver #{{.ID}}</span></h3>
<p>Updates: {{.Updates}}, the last {{ts .LastUpdate}}{{if .LastUpdate}} ({{secs .AgeSeconds}} ago){{end}}{{if .Stale}}, <span class="stale">stale: served from a snapshot</span>{{end}}.
{{if .LastError}}<br><span class="err">Last error</span> ({{.Errors}} in all) at {{ts .LastErrorAt}}: <code>{{.LastError}}</code>{{end}}</p>
<table><tr><th>id</th><th>address</th><th>weight</th><th>zone</th><th>version</th></tr>
{{range .Instances}}<tr><td>{{.ID}}</td><td>{{.Address}}</td><td>{{.Weight}}</td><td>{{.Zone}}</td><td>{{.Version}}</td></tr>
{{else}}<tr><td colspan="5">no instances</td></tr>{{end}}</table>
{{else}}<p>No resolver registered (wrap a resolver builder with Page.Builder).</p>{{end}}

<h2>Balancers</h2>
{{$now := .GeneratedAt}}
{{range .Balancers}}
<h3 id="balancer-{{.ID}}">{{.Target}} <span class="meta">balancer #{{.ID}}, resolver #{{.ResolverID}}, child {{.ChildPolicy}}</span></h3>
<p>State <span class="{{.State}}">{{.State}}</span>, {{.Serving}} of {{len .Endpoints}} endpoints serving (READY, not ejected), {{.Picks}} picks, {{.InFlight}} in flight.</p>
{{$c := columns .}}
<table><tr><th>id</th><th>address</th><th>state</th>{{if $c.ChildState}}<th>child state</th>{{end}}<th>picks</th><th>share</th><th>in flight</th>{{if $c.Weight}}<th>weight</th>{{end}}{{if $c.Cost}}<th>cost</th>{{end}}{{if $c.Ejected}}<th>ejected for</th>{{end}}{{if $c.Zone}}<th>zone</th>{{end}}</tr>
{{range .Endpoints}}<tr><td>{{.ID}}</td><td>{{.Address}}</td>{{if .EjectedUntil}}<td class="err">{{.State}}{{if .State}}, {{end}}ejected until {{ts .EjectedUntil}}</td>{{else}}<td class="{{.State}}">{{.State}}</td>{{end}}{{if $c.ChildState}}<td class="{{.ChildState}}">{{.ChildState}}</td>{{end}}<td>{{.Picks}}</td><td>{{percent .Share}}</td><td>{{.InFlight}}</td>{{if $c.Weight}}<td>{{if .Weight}}{{num .Weight}}{{end}}</td>{{end}}{{if $c.Cost}}<td>{{if .Cost}}{{num .Cost}}{{end}}</td>{{end}}{{if $c.Ejected}}<td>{{if .EjectedUntil}}<span class="err">{{until $now .EjectedUntil}}</span>{{end}}</td>{{end}}{{if $c.Zone}}<td>{{.Zone}}</td>{{end}}</tr>
{{else}}<tr><td colspan="11">no endpoints</td></tr>{{end}}</table>
{{else}}<p>No balancer registered (use the {{"grpckit_debugz"}} policy on a channel whose resolver Page.Builder wraps).</p>{{end}}

<h2>Breakers</h2>
{{range .Breakers}}
<h3>{{.Name}} <span class="meta">{{.KeysTotal}} keys{{if lt (len .Keys) .KeysTotal}}, {{len .Keys}} shown{{end}}</span></h3>
<table><tr><th>key</th><th>state</th><th>requests</th><th>successes</th><th>failures</th><th>consecutive successes</th><th>consecutive failures</th></tr>
{{range .Keys}}<tr><td>{{.Key}}</td><td class="{{.State}}">{{.State}}</td><td>{{.Requests}}</td><td>{{.TotalSuccesses}}</td><td>{{.TotalFailures}}</td><td>{{.ConsecutiveSuccesses}}</td><td>{{.ConsecutiveFailures}}</td></tr>
{{else}}<tr><td colspan="7">no keys</td></tr>{{end}}</table>
{{else}}<p>No breaker group registered (Page.Breakers).</p>{{end}}

<h2>Limiters</h2>
{{range .Limiters}}
<h3>{{.Name}}</h3>
<p>{{.Admitted}} admitted, <span class="{{if .Rejected}}err{{end}}">{{.Rejected}} rejected</span>{{if .SkippedSamples}} ({{.SkippedSamples}} decisions not sampled into the top keys){{end}}.</p>
<table><tr><th>key</th><th>rejected</th><th>± over-count</th><th>admitted</th></tr>
{{range .TopKeys}}<tr><td>{{.Key}}</td><td>{{.Rejected}}</td><td>{{.RejectedError}}</td><td>{{.Admitted}}</td></tr>
{{else}}<tr><td colspan="4">no rejections</td></tr>{{end}}</table>
{{else}}<p>No limiter registered (Page.Limiter).</p>{{end}}
</body>
</html>
`
