package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/inetkit/inetkit/fault"
	"github.com/inetkit/inetkit/sockserver"
	"github.com/inetkit/inetkit/store"
)

// An openapiDoc is the part of an OpenAPI 3.0 document the tests read.
type openapiDoc struct {
	Paths      map[string]map[string]openapiOp `json:"paths"`
	Components struct {
		Schemas map[string]*jsonSchema `json:"schemas"`
	} `json:"components"`
}

type openapiOp struct {
	Parameters []struct {
		Name string `json:"name"`
		In   string `json:"in"`
	} `json:"parameters"`
	Responses map[string]struct {
		Content map[string]struct {
			Schema *jsonSchema `json:"schema"`
		} `json:"content"`
	} `json:"responses"`
}

// A jsonSchema is the subset of JSON Schema (OpenAPI 3.0's dialect) that
// openapi.json uses.
type jsonSchema struct {
	Ref                  string                 `json:"$ref"`
	Type                 string                 `json:"type"`
	Properties           map[string]*jsonSchema `json:"properties"`
	Required             []string               `json:"required"`
	Items                *jsonSchema            `json:"items"`
	Nullable             bool                   `json:"nullable"`
	Enum                 []any                  `json:"enum"`
	AllOf                []*jsonSchema          `json:"allOf"`
	AdditionalProperties *jsonSchema            `json:"additionalProperties"`
}

func loadOpenAPI(t testing.TB) *openapiDoc {
	t.Helper()
	var doc openapiDoc
	if err := json.Unmarshal(openapiJSON, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	return &doc
}

// validate checks v (decoded JSON) against s; it returns the first
// difference, at path.
func (d *openapiDoc) validate(s *jsonSchema, v any, path string) error {
	if s.Ref != "" {
		name := strings.TrimPrefix(s.Ref, "#/components/schemas/")
		ref := d.Components.Schemas[name]
		if ref == nil {
			return fmt.Errorf("%s: unknown $ref %q", path, s.Ref)
		}
		return d.validate(ref, v, path)
	}
	for _, sub := range s.AllOf {
		if err := d.validate(sub, v, path); err != nil {
			return err
		}
	}
	if v == nil {
		if s.Nullable || s.Type == "" {
			return nil
		}
		return fmt.Errorf("%s: null, want %s", path, s.Type)
	}
	if len(s.Enum) > 0 && !slices.Contains(s.Enum, v) {
		return fmt.Errorf("%s: %v not in %v", path, v, s.Enum)
	}
	switch s.Type {
	case "":
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: %T, want object", path, v)
		}
		for _, r := range s.Required {
			if _, ok := m[r]; !ok {
				return fmt.Errorf("%s: no %q", path, r)
			}
		}
		for k, pv := range m {
			ps := s.Properties[k]
			if ps == nil {
				ps = s.AdditionalProperties
			}
			if ps == nil {
				continue // checkDocumented, which sees the whole allOf
			}
			if err := d.validate(ps, pv, path+"."+k); err != nil {
				return err
			}
		}
	case "array":
		a, ok := v.([]any)
		if !ok {
			return fmt.Errorf("%s: %T, want array", path, v)
		}
		for i, e := range a {
			if err := d.validate(s.Items, e, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case "string":
		if _, ok := v.(string); !ok {
			return fmt.Errorf("%s: %T, want string", path, v)
		}
	case "integer":
		f, ok := v.(float64)
		if !ok || f != float64(int64(f)) {
			return fmt.Errorf("%s: %v, want integer", path, v)
		}
	case "number":
		if _, ok := v.(float64); !ok {
			return fmt.Errorf("%s: %T, want number", path, v)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("%s: %T, want boolean", path, v)
		}
	default:
		return fmt.Errorf("%s: schema type %q not supported by this validator", path, s.Type)
	}
	return nil
}

// resolve returns s with its $ref followed and its allOf made one object
// schema: the union of the members' properties.
func (d *openapiDoc) resolve(s *jsonSchema) *jsonSchema {
	for s.Ref != "" {
		s = d.Components.Schemas[strings.TrimPrefix(s.Ref, "#/components/schemas/")]
	}
	if len(s.AllOf) == 0 {
		return s
	}
	u := &jsonSchema{Type: "object", Properties: map[string]*jsonSchema{}}
	for _, sub := range s.AllOf {
		r := d.resolve(sub)
		maps.Copy(u.Properties, r.Properties)
		u.Required = append(u.Required, r.Required...)
	}
	return u
}

// routePath turns a route pattern of apiRouteTable into its method and
// OpenAPI path.
func routePath(pattern string) (method, path string) {
	method, path, _ = strings.Cut(pattern, " ")
	return strings.ToLower(method), strings.ReplaceAll(path, "...}", "}")
}

func TestOpenAPI_routes(t *testing.T) {
	doc := loadOpenAPI(t)
	registered := map[string]bool{}
	for _, rt := range apiRouteTable {
		m, p := routePath(rt.pattern)
		registered[m+" "+p] = true
		op, ok := doc.Paths[p][m]
		if !ok {
			t.Errorf("%s is registered but not in openapi.json", rt.pattern)
			continue
		}
		for _, name := range []string{"id", "part", "path"} {
			inPath := strings.Contains(p, "{"+name+"}")
			documented := slices.ContainsFunc(op.Parameters, func(pp struct {
				Name string `json:"name"`
				In   string `json:"in"`
			}) bool {
				return pp.Name == name && pp.In == "path"
			})
			if inPath != documented {
				t.Errorf("%s: path parameter %s in the path %v, documented %v", rt.pattern, name, inPath, documented)
			}
		}
		if len(op.Responses) == 0 {
			t.Errorf("%s: no responses documented", rt.pattern)
		}
	}
	for p, ops := range doc.Paths {
		for m := range ops {
			if !registered[m+" "+p] {
				t.Errorf("openapi.json documents %s %s, which is not registered", strings.ToUpper(m), p)
			}
		}
	}
}

// TestOpenAPI_responses checks the answers of every documented GET, over
// a store with mail, news and files, against the documented schemas.
func TestOpenAPI_responses(t *testing.T) {
	doc := loadOpenAPI(t)
	tc := newTestConsole(t, func(c *Config) {
		c.CACert = []byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n")
		c.Services = func() []Service {
			return []Service{
				{Name: "smtp", Addr: "127.0.0.1:2525", TLS: "starttls", Stats: func() sockserver.Stats { return sockserver.Stats{Accepted: 3} }},
				{Name: "echo", Addr: "127.0.0.1:7"},
			}
		}
		c.Faults = fault.MustParseSet(7, `smtp DATA reply="451 4.3.0 try later" first=1`,
			`pop3 RETR user=alice* client=10.0.0.0/8 delay=2s reset prob=0.5 every=2 after=1s for=1m`, `tcp connect truncate=0`)
	})
	ids := tc.fixture(t)

	docGets := []string{}
	for p, ops := range doc.Paths {
		if _, ok := ops["get"]; ok {
			docGets = append(docGets, p)
		}
	}
	slices.Sort(docGets)
	for _, p := range docGets {
		op := doc.Paths[p]["get"]
		u := strings.NewReplacer("{part}", "2", "{path}", "docs").Replace(p)
		switch {
		case strings.HasPrefix(p, "/api/v1/articles/"):
			u = strings.Replace(u, "{id}", fmt.Sprint(ids.article), 1)
		default:
			u = strings.Replace(u, "{id}", fmt.Sprint(ids.message), 1)
		}
		q := url.Values{}
		switch p {
		case "/api/v1/wait", "/api/v1/news/wait":
			q.Set("existing", "true")
			q.Set("timeout", "5s")
		case "/api/v1/events":
			continue // a stream: TestAPI_events
		}
		if len(q) > 0 {
			u += "?" + q.Encode()
		}
		r := tc.api(t, "GET", u, nil)
		if r.Status != 200 {
			t.Errorf("GET %s = %v; want 200", u, r)
			continue
		}
		ct := r.Header.Get("Content-Type")
		resp := op.Responses["200"]
		if !strings.HasPrefix(ct, "application/json") {
			if _, ok := resp.Content[strings.Split(ct, ";")[0]]; !ok && resp.Content["application/octet-stream"].Schema == nil {
				t.Errorf("GET %s: Content-Type %q not documented", u, ct)
			}
			continue
		}
		media, ok := resp.Content["application/json"]
		if !ok {
			t.Errorf("GET %s: JSON answer, none documented", u)
			continue
		}
		var v any
		r.decode(t, &v)
		if err := doc.validate(media.Schema, v, "GET "+p); err != nil {
			t.Errorf("%v\n%s", err, r.Body)
		}
		if err := doc.checkDocumented(media.Schema, v, "GET "+p); err != nil {
			t.Errorf("%v", err)
		}
	}

	// Errors have the documented shape.
	for _, u := range []string{"/api/v1/messages/999999", "/api/v1/messages/x", "/api/v1/articles/999999", "/api/v1/files/none", "/api/v1/wait?timeout=10ms"} {
		r := tc.api(t, "GET", u, nil)
		var v any
		r.decode(t, &v)
		if err := doc.validate(doc.Components.Schemas["Error"], v, "GET "+u); err != nil || r.Status < 400 {
			t.Errorf("GET %s = %v: %v", u, r, err)
		}
	}
}

// checkDocumented reports a property of an answer that the schema (allOf
// resolved) does not document, at any depth.
func (d *openapiDoc) checkDocumented(s *jsonSchema, v any, path string) error {
	s = d.resolve(s)
	switch v := v.(type) {
	case map[string]any:
		if s.Type != "object" || (s.Properties == nil && s.AdditionalProperties == nil) {
			return nil
		}
		for k, pv := range v {
			ps := s.Properties[k]
			if ps == nil {
				ps = s.AdditionalProperties
			}
			if ps == nil {
				return fmt.Errorf("%s: undocumented property %q", path, k)
			}
			if err := d.checkDocumented(ps, pv, path+"."+k); err != nil {
				return err
			}
		}
	case []any:
		if s.Items == nil {
			return nil
		}
		for i, e := range v {
			if err := d.checkDocumented(s.Items, e, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	}
	return nil
}

// fixtureIDs are the ids of what fixture stores.
type fixtureIDs struct {
	message, article int64
}

// fixture fills a test console's store and file root: mail for alice and
// bob (one with an attachment), a group with an article, and files.
func (tc *testConsole) fixture(t testing.TB) fixtureIDs {
	t.Helper()
	ctx := context.Background()
	tc.deliver(t, testMessage("carol@example.org", "bob@example.org", "for bob", "hello bob"), "bob@example.org")
	tc.deliver(t, crlf(mixedMessage), "alice@example.org")
	var page struct {
		Messages []struct {
			ID int64 `json:"id"`
		} `json:"messages"`
	}
	tc.apiOK(t, 200, "GET", "/api/v1/messages?address=alice@example.org", nil, &page)
	if len(page.Messages) != 1 {
		t.Fatalf("alice has %d messages; want 1", len(page.Messages))
	}
	if err := tc.Store.AddGroup(ctx, "inetkit.test", "tests"); err != nil && !errors.Is(err, store.ErrExists) {
		t.Fatal(err)
	}
	var posted struct {
		ID int64 `json:"id"`
	}
	tc.apiOK(t, 201, "POST", "/api/v1/articles", map[string]any{
		"from": "alice@example.org", "groups": []string{"inetkit.test"}, "subject": "first", "text": "news body",
	}, &posted)
	if err := tc.Files.Mkdir("docs"); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{"docs/a.txt": "a", "top.html": "<p>x</p>"} {
		tc.apiOK(t, 201, "PUT", "/api/v1/files/"+name, content, nil)
	}
	up, err := tc.Files.Create("docs/.hidden")
	if err != nil {
		t.Fatal(err)
	}
	up.Write([]byte("hidden"))
	if err := up.Close(); err != nil {
		t.Fatal(err)
	}
	return fixtureIDs{message: page.Messages[0].ID, article: posted.ID}
}

// The validator finds what it is for.
func TestOpenAPI_validator(t *testing.T) {
	doc := loadOpenAPI(t)
	sum := &jsonSchema{Ref: "#/components/schemas/MessageSummary"}
	good := map[string]any{"id": 1.0, "address": "a@x", "mailbox": "INBOX", "uid": 1.0, "from": []any{}, "to": []any{map[string]any{"address": "b@x"}},
		"subject": "s", "date": "d", "received": "r", "size": 1.0, "attachments": 0.0, "unread": true, "flags": []any{}, "snippet": ""}
	if err := doc.validate(sum, good, "m"); err != nil {
		t.Fatalf("valid summary: %v", err)
	}
	for name, change := range map[string]func(m map[string]any){
		"missing required": func(m map[string]any) { delete(m, "subject") },
		"wrong type":       func(m map[string]any) { m["id"] = "1" },
		"not an integer":   func(m map[string]any) { m["size"] = 1.5 },
		"null":             func(m map[string]any) { m["flags"] = nil },
		"bad item":         func(m map[string]any) { m["to"] = []any{map[string]any{"name": "no address"}} },
	} {
		m := maps.Clone(good)
		change(m)
		if err := doc.validate(sum, m, "m"); err == nil {
			t.Errorf("%s: valid", name)
		}
	}
	if err := doc.validate(&jsonSchema{Ref: "#/components/schemas/Group"}, map[string]any{"name": "g", "description": "", "count": 0.0,
		"low": 1.0, "high": 0.0, "status": "x", "created": "t"}, "g"); err == nil {
		t.Error("status outside its enum: valid")
	}
	if err := doc.checkDocumented(sum, map[string]any{"id": 1.0, "extra": true}, "m"); err == nil {
		t.Error("undocumented property: not reported")
	}
	if err := doc.validate(&jsonSchema{Ref: "#/components/schemas/Service"}, map[string]any{"name": "s", "addr": "a", "stats": nil}, "s"); err != nil {
		t.Errorf("nullable stats: %v", err)
	}
}
